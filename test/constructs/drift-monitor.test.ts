import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import * as kms from 'aws-cdk-lib/aws-kms';
import { DataLake, DriftMonitor, LineageLedger, OnnxEndpoint, OpsDashboard, SageMakerEndpoint, type DriftMonitorProps, type SageMakerEndpointProps } from '../../lib';
import { asArray, dashboardBody, iamStatements, referenceTemplate, SKIP_BUNDLING, testStack } from '../helpers/stacks';

/*
 * The DriftMonitor and the alarm wiring that closes the loop (drift →
 * retraining, health → rollback), and the operations dashboard: on a stack of
 * their own, and in the reference app (cdk.json).
 */

function monitor(props: Partial<DriftMonitorProps> = {}, stack: Stack = testStack()) {
  const dataLake = new DataLake(stack, 'Lake');
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  const endpoint = new OnnxEndpoint(stack, 'Wages', { dataLake, ledger });
  const construct = new DriftMonitor(stack, 'Drift', { endpoint, dataLake, ledger, features: ['education', 'gender'], ...props });
  return { stack, endpoint, construct, template: () => Template.fromStack(stack) };
}

describe('DriftMonitor', () => {
  it('runs a Lambda on a schedule over the endpoint captures, with its window, thresholds and metric dimensions', () => {
    const t = monitor({ interval: Duration.minutes(30), window: Duration.hours(2), minRows: 200, thresholds: { psi: 0.25 } }).template();
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f: any) => String(f.Properties.Description).startsWith('cdk-mlops drift monitor')) as any;
    expect(fn.Properties.Environment.Variables).toMatchObject({ ENDPOINT_NAME: 'wages', PIPELINE_NAME: 'none', CAPTURE_PREFIX: 'captures/wages/', CAPTURE_FORMAT: 'cdk-mlops', PROFILES_PREFIX: 'profiles/', REPORTS_PREFIX: 'reports/drift/', WINDOW_MINUTES: '120', MIN_ROWS: '200', MAX_ROWS: '100000', THRESHOLDS: JSON.stringify({ psi: 0.25, jsDistance: 0.1, predictionShift: 0.1 }), METRICS_NAMESPACE: 'cdk-mlops' });
    expect(fn.Properties).toMatchObject({ Architectures: ['arm64'], Timeout: 600 });
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined(); // reserving any fails a deploy on a new account
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)', State: 'ENABLED', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DriftFunction'), 'Arn'] } })] });
  });

  it('notifies its alarm topic of drift; a scheduled run that failed every retry waits in a dead-letter queue that alarms', () => {
    // GIVEN a topic of the caller's
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Ops');
    const t = monitor({ alarmTopic: topic }, stack).template();
    const topicRef = { Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) };
    // THEN the composite drift alarm notifies it
    t.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmDescription: Match.stringLikeRegexp('any feature or the predictions drifted'), AlarmActions: [topicRef] });
    // the function's failed asynchronous runs, and events EventBridge could not deliver, go to one queue
    const fn = Object.entries(t.findResources('AWS::Lambda::Function')).find(([, f]: [string, any]) => String(f.Properties.Description).startsWith('cdk-mlops drift monitor'))!;
    const queueArn = (fn[1] as any).Properties.DeadLetterConfig.TargetArn;
    expect(queueArn['Fn::GetAtt'][0]).toMatch(/^DriftDeadLetterQueue/);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: Match.anyValue(), Targets: [Match.objectLike({ DeadLetterConfig: { Arn: queueArn } })] });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmDescription: Match.stringLikeRegexp('a scheduled check failed every retry'), AlarmActions: [topicRef], Threshold: 1 });
  });

  it('alarms per feature (PSI or JS over its threshold) and on the prediction shift, with one composite drift alarm over them', () => {
    const t = monitor({ evaluationPeriods: 2 }).template();
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties).filter((p: any) => String(p.AlarmDescription).startsWith('cdk-mlops drift') && !String(p.AlarmDescription).includes('dead-letter'));
    expect(alarms).toHaveLength(3);
    const education = alarms.find((p: any) => p.AlarmDescription.includes("'education'"));
    expect(education).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' });
    expect(education.Metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Expression: 'MAX([psi / 0.2, js / 0.1])', ReturnData: true }),
        expect.objectContaining({ Id: 'psi', ReturnData: false, MetricStat: expect.objectContaining({ Stat: 'Maximum', Period: 3600, Metric: { Namespace: 'cdk-mlops', MetricName: 'FeaturePSI', Dimensions: [{ Name: 'endpoint', Value: 'wages' }, { Name: 'feature', Value: 'education' }, { Name: 'pipeline', Value: 'none' }] } }) }),
        expect.objectContaining({ Id: 'js', MetricStat: expect.objectContaining({ Metric: expect.objectContaining({ MetricName: 'FeatureJSDistance' }) }) }),
      ]),
    );
    expect(alarms.find((p: any) => p.MetricName === 'PredictionDrift')).toMatchObject({ Threshold: 0.1, Statistic: 'Maximum', Period: 3600 });
    const composite = Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm')).map((a: any) => a.Properties).find((p: any) => String(p.AlarmDescription).startsWith('cdk-mlops drift'));
    const rule = JSON.stringify(composite.AlarmRule);
    for (const id of Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((k) => k.startsWith('Drift') && !k.includes('DeadLetter'))) expect(rule).toContain(id);
  });

  it("grants just what a run needs: list and read the endpoint's captures, profiles, the data (to profile it once), write its reports, read the ledger", () => {
    const { construct, stack } = monitor();
    const t = Template.fromStack(stack);
    const role = stack.resolve((construct.role.node.defaultChild as any).logicalId) as string;
    const mine = iamStatements(t).filter((s) => s.policy.startsWith(role.replace(/Role[0-9A-F]{8}$/, '')));
    const actions = mine.flatMap((s) => asArray(s.statement.Action));
    expect(actions).toEqual(expect.arrayContaining(['s3:ListBucket', 's3:GetObject', 's3:PutObject', 'dynamodb:Query']));
    expect(actions).not.toEqual(expect.arrayContaining(['dynamodb:PutItem']));
    const lists = mine.filter((s) => asArray(s.statement.Action).includes('s3:ListBucket')).map((s) => s.statement.Condition);
    // its captures, and the ledger's WORM copies (LineageLedger.grantRead)
    expect(lists).toEqual(expect.arrayContaining([{ StringLike: { 's3:prefix': ['captures/wages/*'] } }]));
    expect(lists.every((c) => c !== undefined)).toBe(true);
    const puts = mine.filter((s) => asArray(s.statement.Action).includes('s3:PutObject')).map((s) => JSON.stringify(s.statement.Resource));
    expect(puts.some((r) => r.includes('/reports/drift/wages/*'))).toBe(true);
    expect(puts.some((r) => r.includes('/profiles/*'))).toBe(true);
    expect(puts.every((r) => r.includes('/reports/drift/wages/*') || r.includes('/profiles/*'))).toBe(true);
  });

  it.each([
    [{ features: [] }, "'features' must name at least one model input"],
    [{ features: ['a', 'a'] }, "feature 'a' is listed twice"],
    [{ interval: Duration.seconds(90) }, "'interval' must be whole minutes"],
    [{ interval: Duration.days(2) }, "'interval' must be whole minutes from 1 minute to 1 day"],
    [{ window: Duration.days(8) }, "'window' must be whole minutes from 1 minute to 7 days"],
    [{ minRows: 0 }, "'minRows' must be a whole number >= 1"],
    [{ minRows: 500, maxRows: 100 }, "'maxRows' must be a whole number >= minRows 500"],
    [{ thresholds: { psi: 0 } }, "'thresholds.psi' must be a positive number"],
    [{ thresholds: { jsDistance: 2 } }, "'thresholds.jsDistance' and 'thresholds.predictionShift' must be at most 1"],
    [{ evaluationPeriods: 0 }, "'evaluationPeriods' must be a whole number from 1 to 24"],
    [{ interval: Duration.days(1), evaluationPeriods: 8 }, "'interval' × 'evaluationPeriods' (11520 minutes) must be at most 7 days, CloudWatch's limit for an alarm."],
    [{ interval: Duration.hours(8), evaluationPeriods: 24 }, "'interval' × 'evaluationPeriods' (11520 minutes) must be at most 7 days"],
  ] as [Partial<DriftMonitorProps>, string][])('refuses %j at synth time', (props, message) => {
    expect(() => monitor(props)).toThrow(message);
  });

  it('passes cdk-nag AwsSolutions on its own, with a dashboard over it', () => {
    const app = new App({ context: SKIP_BUNDLING });
    const stack = new Stack(app, 'Nag', { env: { account: '123456789012', region: 'us-east-1' } });
    const { construct, endpoint } = monitor({}, stack);
    new OpsDashboard(stack, 'Ops', { endpoints: [endpoint], driftMonitors: [construct] });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // a finding without an acknowledgement fails the synth
    expect(() => app.synth()).not.toThrow();
  });
});

describe('DriftMonitor on a SageMakerEndpoint', () => {
  function sageMakerMonitor(props: Partial<SageMakerEndpointProps> = {}, stack: Stack = testStack()) {
    const dataLake = new DataLake(stack, 'Lake');
    const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
    const endpoint = new SageMakerEndpoint(stack, 'Wages', { dataLake, ledger, imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:v1', initialModelDataUrl: 's3://bucket/models/wages/model.tar.gz', ...props });
    const construct = new DriftMonitor(stack, 'Drift', { endpoint, dataLake, ledger, features: ['education', 'gender'] });
    return { stack, endpoint, construct, template: () => Template.fromStack(stack) };
  }
  const monitorFunction = (t: Template): any => Object.values(t.findResources('AWS::Lambda::Function')).find((f: any) => String(f.Properties.Description).startsWith('cdk-mlops drift monitor'));

  it("reads SageMaker's data capture where SageMaker writes it: <destination>/<endpoint>/<variant>/", () => {
    // GIVEN / WHEN
    const { endpoint, construct, stack, template } = sageMakerMonitor();
    const t = template();
    // THEN
    expect(endpoint.captures).toEqual({ prefix: 'captures/wages/wages/AllTraffic/', format: 'sagemaker' });
    const destination = (Object.values(t.findResources('AWS::SageMaker::EndpointConfig'))[0] as any).Properties.DataCaptureConfig.DestinationS3Uri;
    expect(JSON.stringify(destination)).toContain('/captures/wages"');
    expect(monitorFunction(t).Properties.Environment.Variables).toMatchObject({ ENDPOINT_NAME: 'wages', CAPTURE_PREFIX: 'captures/wages/wages/AllTraffic/', CAPTURE_FORMAT: 'sagemaker' });
    const role = stack.resolve((construct.role.node.defaultChild as any).logicalId) as string;
    const lists = iamStatements(t).filter((s) => s.policy.startsWith(role.replace(/Role[0-9A-F]{8}$/, '')) && asArray(s.statement.Action).includes('s3:ListBucket')).map((s) => s.statement.Condition);
    expect(lists).toEqual(expect.arrayContaining([{ StringLike: { 's3:prefix': ['captures/wages/wages/AllTraffic/*'] } }]));
  });

  it("may decrypt the captures when the endpoint encrypts them with a key of its own", () => {
    // GIVEN
    const stack = testStack();
    const key = new kms.Key(stack, 'EndpointKey', { enableKeyRotation: true });
    // WHEN
    const { construct } = sageMakerMonitor({ encryptionKey: key }, stack);
    const t = Template.fromStack(stack);
    // THEN
    const role = stack.resolve((construct.role.node.defaultChild as any).logicalId) as string;
    const keyId = stack.resolve((key.node.defaultChild as any).logicalId) as string;
    const decrypts = iamStatements(t).filter((s) => s.policy.startsWith(role.replace(/Role[0-9A-F]{8}$/, '')) && asArray(s.statement.Action).includes('kms:Decrypt'));
    expect(decrypts.some((s) => JSON.stringify(s.statement.Resource).includes(keyId))).toBe(true);
  });

  it.each([
    [{ dataCapturePercent: 0 }, "DriftMonitor: endpoint 'wages' captures no traffic"],
    [{ serverless: { memorySize: Size.gibibytes(2), maxConcurrency: 5 } }, "DriftMonitor: endpoint 'wages' captures no traffic"],
  ] as [Partial<SageMakerEndpointProps>, string][])('refuses an endpoint that captures nothing (%j)', (props, message) => {
    expect(() => sageMakerMonitor(props)).toThrow(message);
  });

  it('refuses an endpoint whose releases the ledger does not record, and an OnnxEndpoint capturing nothing', () => {
    const stack = testStack();
    const dataLake = new DataLake(stack, 'Lake');
    const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
    const unrecorded = new SageMakerEndpoint(stack, 'Wages', { dataLake, imageUri: 'img', initialModelDataUrl: 's3://bucket/m.tar.gz' });
    expect(unrecorded.recordsReleases).toBe(false);
    expect(() => new DriftMonitor(stack, 'Drift', { endpoint: unrecorded, dataLake, ledger, features: ['a'] })).toThrow("DriftMonitor: the releases of endpoint 'wages' are not recorded in the ledger");
    const silent = new OnnxEndpoint(stack, 'Silent', { dataLake, ledger, captureSampleRate: 0 });
    expect(silent.captures).toBeUndefined();
    expect(() => new DriftMonitor(stack, 'Drift2', { endpoint: silent, dataLake, ledger, features: ['a'] })).toThrow("DriftMonitor: endpoint 'silent' captures no traffic");
    expect(() => new DriftMonitor(stack, 'Drift3', { endpoint: { endpointName: 'x', captures: { prefix: 'captures/x', format: 'sagemaker' } }, dataLake, ledger, features: ['a'] })).toThrow("the captures prefix of endpoint 'x' must end in '/' (got 'captures/x')");
  });

  it('passes cdk-nag AwsSolutions', () => {
    const app = new App({ context: SKIP_BUNDLING });
    const stack = new Stack(app, 'Nag', { env: { account: '123456789012', region: 'us-east-1' } });
    sageMakerMonitor({}, stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('the loop, in the reference app (cdk.json)', () => {
  const { template: t } = referenceTemplate();
  const logicalId = (type: string, pattern: RegExp): string => Object.keys(t.findResources(type)).find((k) => pattern.test(k))!;

  it("the drift alarm's state change starts the pipeline's starter with the drift trigger as input", () => {
    const composite = logicalId('AWS::CloudWatch::CompositeAlarm', /^DriftMonitorDriftAlarm/);
    const starter = logicalId('AWS::Lambda::Function', /^TrainingPipelineStarter/);
    const rules = Object.values(t.findResources('AWS::Events::Rule')).map((r: any) => r.Properties).filter((p: any) => p.EventPattern?.source?.[0] === 'aws.cloudwatch' && JSON.stringify(p.EventPattern.resources).includes(composite));
    expect(rules).toHaveLength(1);
    const [rule] = rules;
    expect(rule.EventPattern).toEqual({ source: ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'], resources: [{ 'Fn::GetAtt': [composite, 'Arn'] }], detail: { state: { value: ['ALARM'] } } });
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0]).toMatchObject({ Arn: { 'Fn::GetAtt': [starter, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 8 }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^TrainingPipelineStarterDeadLetterQueue/), 'Arn'] } } });
    const transformer = rule.Targets[0].InputTransformer;
    expect(transformer.InputPathsMap).toEqual({ 'detail-alarmName': '$.detail.alarmName', time: '$.time', 'detail-state-reason': '$.detail.state.reason' });
    expect(JSON.parse(transformer.InputTemplate.replace(/<([a-zA-Z-]+)>/g, '"<$1>"'))).toEqual({ trigger: 'drift', endpoint: 'cps-wages', alarmName: '<detail-alarmName>', time: '<time>', reason: '<detail-state-reason>' });
    // the starter may start and list the pipeline's executions, and record the Incident
    const pipeline = logicalId('AWS::StepFunctions::StateMachine', /^TrainingPipeline[0-9A-F]{8}$/);
    const starterRole = (t.findResources('AWS::Lambda::Function')[starter] as any).Properties.Role['Fn::GetAtt'][0];
    const statements = iamStatements(t).filter((s) => s.policy.startsWith(starterRole.replace(/[0-9A-F]{8}$/, '')));
    const on = (action: string) => statements.filter((s) => asArray(s.statement.Action).includes(action)).map((s) => JSON.stringify(s.statement.Resource));
    expect(on('states:StartExecution')).toEqual([JSON.stringify({ Ref: pipeline })]);
    expect(on('states:ListExecutions')).toEqual([JSON.stringify({ Ref: pipeline })]);
    expect(on('dynamodb:PutItem')).toHaveLength(1);
    // no retraining on every upload in the reference app; uploads reach the starter only for a drift that waits for data
    const uploadRules = Object.entries(t.findResources('AWS::Events::Rule')).filter(([, r]: [string, any]) => r.Properties.EventPattern?.source?.[0] === 'aws.s3' && JSON.stringify(r.Properties.Targets).includes(starter));
    expect(uploadRules.map(([id]) => id)).toEqual([expect.stringMatching(/^TrainingPipelineRetrainWhenDataArrives/)]);
    const env = (t.findResources('AWS::Lambda::Function')[starter] as any).Properties.Environment.Variables;
    expect(env).toMatchObject({ RETRAIN_ON_UPLOAD: 'false', DRIFT_ENDPOINTS: '["cps-wages"]', PIPELINE_NAME: 'cps-wages' });
  });

  it("the endpoint's health alarm rolls back through its deployer, right after a release only", () => {
    const health = logicalId('AWS::CloudWatch::CompositeAlarm', /^EndpointHealthAlarm/);
    const deployer = logicalId('AWS::Lambda::Function', /^EndpointDeployer/);
    const rule: any = Object.values(t.findResources('AWS::Events::Rule')).map((r: any) => r.Properties).find((p: any) => JSON.stringify(p.EventPattern?.resources ?? []).includes(health));
    expect(rule.EventPattern).toEqual({ source: ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'], resources: [{ 'Fn::GetAtt': [health, 'Arn'] }], detail: { state: { value: ['ALARM'] } } });
    expect(rule.Targets[0]).toMatchObject({ Arn: { 'Fn::GetAtt': [deployer, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 4 }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^EndpointRollbackDeadLetterQueue/), 'Arn'] } } });
    expect(JSON.parse(rule.Targets[0].InputTransformer.InputTemplate.replace(/<([a-zA-Z-]+)>/g, '"<$1>"'))).toMatchObject({ operation: 'alarm-rollback' });
    expect((t.findResources('AWS::Lambda::Function')[deployer] as any).Properties.Environment.Variables.ROLLBACK_WINDOW_MINUTES).toBe('60');
    t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [deployer, 'Arn'] }, Principal: 'events.amazonaws.com' });
    // the health alarm is any of the four the CodeDeploy group rolls back on
    const group = Object.values(t.findResources('AWS::CodeDeploy::DeploymentGroup'))[0] as any;
    const healthRule = JSON.stringify((t.findResources('AWS::CloudWatch::CompositeAlarm')[health] as any).Properties.AlarmRule);
    for (const a of group.Properties.AlarmConfiguration.Alarms) expect(healthRule).toContain(a.Name.Ref);
  });

  it('can be left out: rollbackOnHealthAlarm false creates no rule', () => {
    const stack = testStack();
    const dataLake = new DataLake(stack, 'Lake');
    const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
    new OnnxEndpoint(stack, 'Wages', { dataLake, ledger, rollbackOnHealthAlarm: false });
    Template.fromStack(stack).resourceCountIs('AWS::Events::Rule', 0);
    expect(() => new OnnxEndpoint(stack, 'Other', { dataLake, ledger, rollbackWindow: Duration.seconds(30) })).toThrow("'rollbackWindow' must be whole minutes from 1 minute to 1 day");
  });

  it('the operations dashboard shows pipelines, gates, the endpoint, drift per feature and the alarm states', () => {
    const body = dashboardBody(t);
    for (const title of [
      'Alarm states',
      'Pipeline cps-wages: executions',
      'Pipeline cps-wages: failures and timeouts',
      'Pipeline cps-wages: automatic retraining (uploads, drift, image pushes)',
      'Validation gate',
      'Bias gate',
      'Endpoint cps-wages: invocations',
      'Endpoint cps-wages: latency (ms)',
      'Endpoint cps-wages: errors',
      'Endpoint cps-wages: concurrency and predictions',
      'Drift cps-wages: PSI per feature',
      'Drift cps-wages: Jensen–Shannon distance per feature',
      'Drift cps-wages: predictions',
    ]) {
      expect(body, title).toContain(`"title":"${title}"`);
    }
    const widgets = (JSON.parse(body) as { widgets: { properties: { title?: string; metrics?: unknown[][]; alarms?: string[] } }[] }).widgets;
    const metricsOf = (title: string) => JSON.stringify(widgets.find((w) => w.properties.title === title)!.properties.metrics);
    expect(metricsOf('Pipeline cps-wages: executions')).toMatch(/ExecutionsStarted.*ExecutionsSucceeded.*ExecutionsFailed/);
    // the starter's counts, by its service name: started, duplicates (uploads, pushes), declined (uploads, drift)
    const starter = Object.values(t.findResources('AWS::Lambda::Function')).find((f: any) => String(f.Properties.Description).includes('starts training runs')) as any;
    const triggers = metricsOf('Pipeline cps-wages: automatic retraining (uploads, drift, image pushes)');
    expect(triggers).toContain(`"cdk-mlops","RetrainingStarted","service","${starter.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME}"`);
    expect(triggers).toMatch(/"label":"duplicate","expression":"FILL\(duplicate0, 0\) \+ FILL\(duplicate1, 0\)".*"DuplicateUpload".*"DuplicateImagePush".*"label":"declined","expression":"FILL\(declined0, 0\) \+ FILL\(declined1, 0\)".*"NotRetrained".*"DriftNotRetrained"/);
    expect(metricsOf('Validation gate')).toMatch(/ValidationGatePassed.*ValidationGateFailed.*ValidationChecksFailed/);
    expect(metricsOf('Bias gate')).toMatch(/BiasGatePassed.*BiasGateFailed.*BiasChecksFailed/);
    expect(metricsOf('Endpoint cps-wages: invocations')).toContain('Invocations');
    expect(metricsOf('Endpoint cps-wages: latency (ms)')).toMatch(/"stat":"p50".*"stat":"p99"/);
    expect(metricsOf('Endpoint cps-wages: errors')).toMatch(/Errors.*ServerErrors.*ModelIntegrityFailures/);
    expect(metricsOf('Endpoint cps-wages: concurrency and predictions')).toMatch(/ConcurrentExecutions.*PredictionShift/);
    expect(metricsOf('Drift cps-wages: PSI per feature')).toMatch(/FeaturePSI.*"feature","education"/);
    expect(metricsOf('Drift cps-wages: Jensen–Shannon distance per feature')).toContain('FeatureJSDistance');
    expect(metricsOf('Drift cps-wages: predictions')).toMatch(/PredictionDrift.*CapturedRows/);
    // every alarm of the stack is on the alarm-state row
    const alarmWidget = widgets.find((w) => w.properties.title === 'Alarm states')!;
    expect(alarmWidget.properties.alarms).toHaveLength(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).length + Object.keys(t.findResources('AWS::CloudWatch::CompositeAlarm')).length);
  });
});
