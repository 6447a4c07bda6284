import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { DataLake, LineageLedger, OnnxEndpoint, type OnnxEndpointProps } from '../../lib';
import { asArray, iamStatements, SKIP_BUNDLING, testStack } from '../helpers/stacks';

function endpoint(props: Partial<OnnxEndpointProps> = {}, stack: Stack = testStack()) {
  const dataLake = new DataLake(stack, 'Lake');
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  const construct = new OnnxEndpoint(stack, 'Wages', { dataLake, ledger, ...props });
  return { stack, construct, template: () => Template.fromStack(stack) };
}

const inferenceFunction = (template: Template): any => Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => String(f.Properties.Description).includes('ONNX model inference'));

describe('OnnxEndpoint', () => {
  it('serves from an arm64 onnxruntime Lambda behind an IAM-authenticated Function URL on the live alias', () => {
    // GIVEN / WHEN
    const { template } = endpoint();
    const t = template();
    // THEN
    const fn = inferenceFunction(t);
    expect(fn.Properties).toMatchObject({ Architectures: ['arm64'], Runtime: 'nodejs24.x', MemorySize: 2048, Timeout: 30, TracingConfig: { Mode: 'Active' } });
    expect(fn.Properties.Environment.Variables).toMatchObject({ ENDPOINT_NAME: 'wages', CAPTURE_PREFIX: 'captures/wages/', CAPTURE_SAMPLE_RATE: '0.05', CONTRACTS_PREFIX: 'contracts/', MAX_ROWS: '10000', MAX_BODY_BYTES: String(6 * 1024 * 1024), PREDICTION_THRESHOLD: '0.5', SHIFT_MIN_ROWS: '100', POWERTOOLS_SERVICE_NAME: 'endpoint-wages' });
    expect(fn.Properties.Environment.Variables.MODEL_VERSION_ID).toBeUndefined(); // the deployer pins it per published version
    t.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live' });
    t.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', Qualifier: 'live' });
    t.resourceCountIs('AWS::Lambda::Url', 1);
  });

  it('has zero provisioned concurrency by default (no idle compute cost), and no autoscaling', () => {
    const t = endpoint().template();
    expect(JSON.stringify(t.findResources('AWS::Lambda::Alias'))).not.toContain('ProvisionedConcurrencyConfig');
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
  });

  it('autoscales provisioned concurrency on utilization (target tracking) when asked', () => {
    const t = endpoint({ provisionedConcurrency: { minCapacity: 2, maxCapacity: 20, utilizationTarget: 0.6 } }).template();
    t.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 } });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 20, ScalableDimension: 'lambda:function:ProvisionedConcurrency', ServiceNamespace: 'lambda' });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: { TargetValue: 0.6, PredefinedMetricSpecification: { PredefinedMetricType: 'LambdaProvisionedConcurrencyUtilization' } },
    });
  });

  it('notifies an alarm topic from the composite health alarm; a rollback that failed every retry waits in a dead-letter queue that alarms', () => {
    // GIVEN an endpoint with its own topic (none given)
    const t = endpoint().template();
    const topics = Object.keys(t.findResources('AWS::SNS::Topic'));
    expect(topics).toHaveLength(1);
    // THEN the health alarm notifies it (its four children are watched by CodeDeploy and by it)
    t.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmActions: [{ Ref: topics[0] }] });
    // the deployer's asynchronous invocations (the rollback rule's) that fail go to the rollback dead-letter queue
    const queues = Object.keys(t.findResources('AWS::SQS::Queue'));
    expect(queues).toHaveLength(1);
    t.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('releases models through CodeDeploy'), DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [queues[0], 'Arn'] } } });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: topics[0] }], Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queues[0], 'QueueName'] } }], Threshold: 1 });
  });

  it('caps the inference function with reservedConcurrentExecutions, and refuses provisioned concurrency above it', () => {
    endpoint({ reservedConcurrentExecutions: 50 }).template().hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('ONNX model inference'), ReservedConcurrentExecutions: 50 });
    expect(() => endpoint({ reservedConcurrentExecutions: 0 })).toThrow(/'reservedConcurrentExecutions' must be a whole number >= 1 \(got 0\)/);
    expect(() => endpoint({ reservedConcurrentExecutions: 4, provisionedConcurrency: { maxCapacity: 8 } })).toThrow(/'provisionedConcurrency.maxCapacity' \(8\) must be at most 'reservedConcurrentExecutions' \(4\)/);
  });

  it('releases through a CodeDeploy canary deployment group watched by four alarms, rolling back automatically', () => {
    const t = endpoint().template();
    t.hasResourceProperties('AWS::CodeDeploy::Application', { ComputePlatform: 'Lambda' });
    const alarms = Object.entries(t.findResources('AWS::CloudWatch::Alarm')).filter(([id]) => !id.includes('DeadLetter')).map(([id]) => id);
    expect(alarms).toHaveLength(4);
    t.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
      DeploymentConfigName: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
      DeploymentStyle: { DeploymentType: 'BLUE_GREEN', DeploymentOption: 'WITH_TRAFFIC_CONTROL' },
      AutoRollbackConfiguration: { Enabled: true, Events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST', 'DEPLOYMENT_STOP_ON_ALARM'] },
      AlarmConfiguration: { Enabled: true, Alarms: alarms.map((id) => ({ Name: { Ref: id } })) },
    });
    // the alias is updated through CodeDeploy on stack updates too
    const [alias] = Object.values(t.findResources('AWS::Lambda::Alias')) as any[];
    expect(alias.UpdatePolicy.CodeDeployLambdaAliasUpdate).toBeDefined();
  });

  it('alarms on error rate (Lambda errors + 5xx over invocations), p99 latency, prediction shift and model integrity', () => {
    const t = endpoint({ alarmThresholds: { maxErrorRate: 0.02, maxP99Latency: Duration.millis(250), maxPredictionShift: 0.1 } }).template();
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
    const rate = alarms.find((a) => a.Metrics)!;
    expect(rate).toMatchObject({ Threshold: 0.02, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching', EvaluationPeriods: 1 });
    expect(rate.Metrics.find((m: any) => m.Expression)).toMatchObject({ Expression: '(errors + FILL(serverErrors, 0)) / invocations' });
    expect(rate.Metrics.map((m: any) => m.MetricStat?.Metric.MetricName).filter(Boolean).sort()).toEqual(['Errors', 'Invocations', 'ServerErrors']);
    expect(alarms.find((a) => a.ExtendedStatistic === 'p99')).toMatchObject({ MetricName: 'Duration', Namespace: 'AWS/Lambda', Threshold: 250, Period: 60 });
    expect(alarms.find((a) => a.MetricName === 'PredictionShift')).toMatchObject({ Namespace: 'cdk-mlops', Statistic: 'Maximum', Threshold: 0.1, Dimensions: [{ Name: 'service', Value: 'endpoint-wages' }] });
    expect(alarms.find((a) => a.MetricName === 'ModelIntegrityFailures')).toMatchObject({ Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    t.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 1);
  });

  it('takes a linear deployment config', () => {
    endpoint({ deploymentConfig: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE }).template().hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute' });
  });

  it('scopes IAM: the endpoint reads models and contracts and writes its captures; the deployer updates only its function, alias and deployment group', () => {
    const t = endpoint().template();
    const statements = iamStatements(t);
    const actions = (s: (typeof statements)[number]) => asArray(s.statement.Action);
    const text = (v: unknown) => JSON.stringify(v);
    // no one may delete or update ledger records
    expect(statements.some((s) => actions(s).some((a) => /dynamodb:(UpdateItem|DeleteItem|BatchWriteItem)/.test(a)))).toBe(false);
    const updateFn = statements.find((s) => actions(s).includes('lambda:UpdateFunctionConfiguration'))!;
    expect(actions(updateFn).sort()).toEqual(['lambda:GetFunctionConfiguration', 'lambda:PublishVersion', 'lambda:UpdateFunctionConfiguration']);
    expect(text(updateFn.statement.Resource)).not.toContain('*');
    const deployments = statements.find((s) => actions(s).includes('codedeploy:CreateDeployment'))!;
    expect(text(deployments.statement.Resource)).toMatch(/deploymentgroup:/);
    expect(statements.some((s) => text(s.statement.Resource).includes('captures/wages/*') && actions(s).includes('s3:PutObject'))).toBe(true);
    expect(statements.some((s) => text(s.statement.Resource).includes('models/*') && actions(s).some((a) => a.startsWith('s3:GetObject')))).toBe(true);
    // released contracts: the deployer reads contracts and writes the one a release fixes; the function reads it
    const on = (who: RegExp, key: string, action: string) => statements.some((s) => who.test(s.policy) && text(s.statement.Resource).includes(key) && actions(s).includes(action));
    expect(on(/Deployer/, 'contracts/*', 's3:GetObject')).toBe(true);
    expect(on(/Deployer/, 'releases/wages/contracts/*', 's3:PutObject')).toBe(true);
    expect(on(/^WagesFunction/, 'releases/wages/contracts/*', 's3:GetObject')).toBe(true);
    expect(on(/^WagesFunction/, 'releases/', 's3:PutObject')).toBe(false);
    // the function applies the released contract only: the editable contracts/ are not its to read
    expect(on(/^WagesFunction/, '"/contracts/*"', 's3:GetObject')).toBe(false);
    const deployerEnv = (tpl: ReturnType<typeof t.findResources>) => (Object.values(tpl).find((f: any) => String(f.Properties.Description).includes('releases models')) as any).Properties.Environment.Variables;
    expect(deployerEnv(t.findResources('AWS::Lambda::Function'))).toMatchObject({ CONTRACTS_PREFIX: 'contracts/', ARTIFACTS_BUCKET: expect.anything() });
    // no contract checks: nothing of it
    const unchecked = endpoint({ checkContract: false }).template();
    expect(deployerEnv(unchecked.findResources('AWS::Lambda::Function'))).not.toHaveProperty('CONTRACTS_PREFIX');
    expect(iamStatements(unchecked).some((s) => text(s.statement.Resource).includes('releases/'))).toBe(false);
  });

  it('releases through a state machine: start, wait, check until done, then Released or Rolled back', () => {
    const t = endpoint({ releasePollInterval: Duration.seconds(10) }).template();
    const [sm] = Object.values(t.findResources('AWS::StepFunctions::StateMachine')) as any[];
    const definition = JSON.stringify(sm.Properties.DefinitionString);
    for (const state of ['Start release', 'Wait for release', 'Check release', 'Release done?', 'Released?', 'Rolled back']) expect(definition).toContain(state);
    expect(definition).toContain('\\"Seconds\\":10');
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
  });

  it('grants invoking (Function URL and alias) and releasing', () => {
    const { stack, construct, template } = endpoint();
    const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    construct.grantInvoke(caller);
    construct.grantRelease(caller);
    const mine = iamStatements(template()).filter((s) => s.policy.startsWith('Caller'));
    const all = mine.flatMap((s) => asArray(s.statement.Action));
    expect(all).toEqual(expect.arrayContaining(['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction', 'states:StartExecution']));
  });

  it('passes cdk-nag AwsSolutions, its one managed policy acknowledged with the reason', () => {
    const app = new App({ context: SKIP_BUNDLING });
    const stack = new Stack(app, 'Nag', { env: { account: '123456789012', region: 'us-east-1' } });
    endpoint({ provisionedConcurrency: { maxCapacity: 4 } }, stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it.each([
    [{ endpointName: 'Wages_1' }, "OnnxEndpoint: 'endpointName' must be 1-40 lower-case letters, digits and hyphens (got 'Wages_1')."],
    [{ maxRows: 0 }, "OnnxEndpoint: 'maxRows' must be a whole number from 1 to 1000000 (got 0)."],
    [{ maxRequestSize: Size.mebibytes(7) }, "OnnxEndpoint: 'maxRequestSize' must be at most 6 MiB, Lambda's request payload limit (got 7340032 bytes)."],
    [{ captureSampleRate: 1.5 }, "OnnxEndpoint: 'captureSampleRate' must be from 0 to 1 (got 1.5)."],
    [{ predictionThreshold: -1 }, "OnnxEndpoint: 'predictionThreshold' must be from 0 to 1 (got -1)."],
    [{ predictionShiftMinRows: 0 }, "OnnxEndpoint: 'predictionShiftMinRows' must be a whole number >= 1 (got 0)."],
    [{ provisionedConcurrency: { minCapacity: 0, maxCapacity: 3 } }, "OnnxEndpoint: 'provisionedConcurrency.minCapacity' must be a whole number >= 1 (got 0); leave 'provisionedConcurrency' out for none."],
    [{ provisionedConcurrency: { minCapacity: 5, maxCapacity: 3 } }, "OnnxEndpoint: 'provisionedConcurrency.maxCapacity' must be a whole number >= minCapacity 5 (got 3)."],
    [{ provisionedConcurrency: { maxCapacity: 3, utilizationTarget: 0.95 } }, "OnnxEndpoint: 'provisionedConcurrency.utilizationTarget' must be from 0.1 to 0.9 (got 0.95)."],
    [{ alarmThresholds: { maxErrorRate: 0 } }, "OnnxEndpoint: 'alarmThresholds.maxErrorRate' must be above 0 and at most 1 (got 0)."],
    [{ alarmThresholds: { maxPredictionShift: 2 } }, "OnnxEndpoint: 'alarmThresholds.maxPredictionShift' must be above 0 and at most 1 (got 2)."],
    [{ alarmThresholds: { maxP99Latency: Duration.seconds(40) } }, "OnnxEndpoint: 'alarmThresholds.maxP99Latency' (40 seconds) must be below 'timeout' (30 seconds)."],
  ])('rejects bad props: %j', (props, message) => {
    expect(() => endpoint(props as Partial<OnnxEndpointProps>)).toThrow(message);
  });
});
