import { Duration, Size, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { describe, expect, it } from 'vitest';
import { DataLake, HostingInstanceType, LineageLedger, PinnedEcrImage, SageMakerEndpoint, TrainingInstanceType, TrainingPipeline, ValidationGate, type SageMakerEndpointProps, type TrainingPipelineProps } from '../../lib';
import { asArray, iamStatements, testStack } from '../helpers/stacks';

function pipeline(props: Partial<TrainingPipelineProps> | ((stack: Stack) => Partial<TrainingPipelineProps>) = {}, id = 'Churn') {
  const stack = testStack();
  if (typeof props === 'function') props = props(stack);
  const dataLake = new DataLake(stack, 'Lake');
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  const validationGate = new ValidationGate(stack, 'Gate', { dataLake, ledger });
  const repo = ecr.Repository.fromRepositoryName(stack, 'Repo', 'trainer');
  const construct = new TrainingPipeline(stack, id, { dataLake, ledger, validationGate, trainingImage: tasks.DockerImage.fromEcrRepository(repo, 'v1'), label: { column: 'churned', values: ['yes'] }, ...props });
  return { stack, construct, template: () => Template.fromStack(stack) };
}

function states(template: Template): Record<string, any> {
  // the pipeline's (not an endpoint's release state machine)
  const [sm] = Object.entries(template.findResources('AWS::StepFunctions::StateMachine')).filter(([id]) => !id.includes('ReleaseStateMachine')).map(([, r]) => r) as any[];
  const text = sm.Properties.DefinitionString['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : '"TOKEN"')).join('').replace(/""TOKEN""/g, '"TOKEN"');
  return JSON.parse(text.replace(/"TOKEN"(?=[^,}\]])/g, 'TOKEN')).States;
}
const trainState = (template: Template): any => states(template).Train;

describe('TrainingPipeline', () => {
  it('trains on a GPU with managed spot, checkpoints, VPC, network isolation and the KMS key, in .sync', () => {
    const { template } = pipeline((stack) => ({
      instanceType: TrainingInstanceType.GPU_G5_12XLARGE,
      instanceCount: 2,
      spot: { maxWait: Duration.hours(8) },
      maxRuntime: Duration.hours(6),
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] }),
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      encryptionKey: new kms.Key(stack, 'TeamKey', { enableKeyRotation: true }),
      volumeSize: Size.gibibytes(200),
    }));
    const t = trainState(template());
    expect(t.Resource).toMatch(/sagemaker:createTrainingJob\.sync/);
    expect(t.Parameters).toMatchObject({
      'TrainingJobName.$': '$.prepare.trainingJobName',
      ResourceConfig: { InstanceCount: 2, InstanceType: 'ml.g5.12xlarge', VolumeSizeInGB: 200 },
      StoppingCondition: { MaxRuntimeInSeconds: 21600, MaxWaitTimeInSeconds: 28800 },
      EnableManagedSpotTraining: true,
      EnableNetworkIsolation: true,
      EnableInterContainerTrafficEncryption: true,
      CheckpointConfig: { LocalPath: '/opt/ml/checkpoints' },
      VpcConfig: { Subnets: expect.any(Array), SecurityGroupIds: expect.any(Array) },
    });
    expect(t.Parameters.ResourceConfig.VolumeKmsKeyId).toBeDefined();
    expect(t.Parameters.OutputDataConfig.KmsKeyId).toBeDefined();
    expect(t.Retry.map((r: any) => r.ErrorEquals)).toContainEqual(['SageMaker.ThrottlingException', 'SageMaker.ResourceLimitExceededException', 'SageMaker.CapacityError', 'SageMaker.AmazonSageMakerException']);
    expect(JSON.stringify(t.Retry)).not.toContain('States.ALL');
  });

  it('with a PinnedEcrImage: resolves the tag to its digest first, then trains and registers by that digest; IAM to describe that repository only', () => {
    const { template } = pipeline((stack) => ({ trainingImage: PinnedEcrImage.fromRepository(ecr.Repository.fromRepositoryName(stack, 'Pinned', 'churn-trainer'), 'stable') }));
    const t = template();
    const s = states(t);
    expect(s['Prepare training data'].Next).toBe('Resolve training image');
    expect(s['Resolve training image']).toMatchObject({
      Resource: expect.stringContaining(':states:::aws-sdk:ecr:describeImages'),
      Parameters: { RepositoryName: 'churn-trainer', ImageIds: [{ ImageTag: 'stable' }] },
      ResultSelector: { 'digest.$': '$.ImageDetails[0].ImageDigest', 'uri.$': expect.stringMatching(/^States\.Format\('\{\}@\{\}', '.*churn-trainer', \$\.ImageDetails\[0\]\.ImageDigest\)$/) },
      ResultPath: '$.image',
      Next: 'Train',
    });
    expect(s['Resolve training image'].Catch[0]).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'Record training error' });
    expect(s['Resolve training image'].Retry.map((r: any) => r.ErrorEquals)).toEqual([['Ecr.ServerException', 'Ecr.ThrottlingException']]);
    expect(s.Train.Parameters.AlgorithmSpecification['TrainingImage.$']).toBe('$.image.uri');
    expect(s['Register model'].Parameters.InferenceSpecification.Containers[0]['Image.$']).toBe('$.image.uri');
    const describe = iamStatements(t).filter(({ statement }) => asArray(statement.Action).includes('ecr:DescribeImages'));
    expect(describe).toHaveLength(1);
    expect(JSON.stringify(describe[0]!.statement.Resource)).toMatch(/repository\/churn-trainer/);
    // the training role pulls that repository (no ecr:* on every repository)
    const pulls = iamStatements(t).filter(({ statement }) => asArray(statement.Action).includes('ecr:BatchGetImage'));
    expect(pulls.map(({ statement }) => JSON.stringify(statement.Resource))).toEqual([expect.stringMatching(/repository\/churn-trainer/)]);
  });

  it('with any other image: no resolve step, the image as given', () => {
    const s = states(pipeline().template());
    expect(s['Resolve training image']).toBeUndefined();
    expect(s['Prepare training data'].Next).toBe('Train');
    expect(s.Train.Parameters.AlgorithmSpecification['TrainingImage.$']).toBeUndefined();
  });

  it('retrains on a push of its PinnedEcrImage: a rule on that repository and tag to the starter, which may read the ledger', () => {
    const { template, construct } = pipeline((stack) => ({ trainingImage: PinnedEcrImage.fromRepository(ecr.Repository.fromRepositoryName(stack, 'Pinned', 'churn-trainer'), 'stable'), retrainOnImagePush: true }));
    const t = template();
    expect(construct.imagePushRule).toBeDefined();
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ecr'], 'detail-type': ['ECR Image Action'], detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': ['churn-trainer'], 'image-tag': ['stable'] } },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ChurnStarter'), 'Arn'] }, DeadLetterConfig: Match.anyValue(), RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 } })],
    });
    const starter = Object.values(t.findResources('AWS::Lambda::Function')).find((f: any) => String(f.Properties.Description).includes('image pushes')) as any;
    expect(Object.keys(starter.Properties.Environment.Variables)).toEqual(expect.arrayContaining(['STATE_MACHINE_ARN', 'PIPELINE_NAME', 'LEDGER_TABLE']));
  });

  it('refuses retrainOnImagePush without a PinnedEcrImage: there is no repository and tag to match pushes on', () => {
    expect(() => pipeline({ retrainOnImagePush: true })).toThrow("TrainingPipeline: 'retrainOnImagePush' needs 'trainingImage' to be a PinnedEcrImage");
  });

  it('refuses a PinnedEcrImage tag that is not a tag, naming it', () => {
    const stack = testStack();
    const repo = ecr.Repository.fromRepositoryName(stack, 'Repo', 'trainer');
    expect(() => PinnedEcrImage.fromRepository(repo, 'sha256:abc')).toThrow(/PinnedEcrImage: tag "sha256:abc" is not an image tag/);
    expect(() => PinnedEcrImage.fromRepository(repo, '')).toThrow(/tag "" is not an image tag/);
    expect(PinnedEcrImage.fromRepository(repo).tag).toBe('latest');
  });

  it('runs on Trainium and CPU presets, on-demand by default, network isolated', () => {
    const t = trainState(pipeline({ instanceType: TrainingInstanceType.TRAINIUM_TRN1_32XLARGE }).template());
    expect(t.Parameters.ResourceConfig.InstanceType).toBe('ml.trn1.32xlarge');
    expect(t.Parameters.EnableManagedSpotTraining).toBeUndefined();
    expect(t.Parameters.EnableNetworkIsolation).toBe(true);
    expect(trainState(pipeline().template()).Parameters.ResourceConfig.InstanceType).toBe('ml.m5.xlarge');
  });

  it('gives SageMaker a role scoped to the pipeline: its snapshots, job output and checkpoints, not the data bucket', () => {
    const template = pipeline().template();
    const statements = iamStatements(template).filter((s) => s.policy.startsWith('ChurnTrainingRole'));
    const resources = JSON.stringify(statements.map((s) => s.statement.Resource));
    expect(resources).toContain('/training/churn/snapshots/*');
    expect(resources).toContain('/training/churn/jobs/*');
    expect(resources).not.toContain('/data/*');
    expect(statements.flatMap((s) => asArray(s.statement.Action))).not.toContain('s3:*');
    template.hasResourceProperties('AWS::IAM::Role', { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })] } });
    // no AmazonSageMakerFullAccess
    expect(JSON.stringify(template.findResources('AWS::IAM::Role'))).not.toContain('AmazonSageMakerFullAccess');
  });

  it('logs ALL with X-Ray, notifies failures on an encrypted topic', () => {
    const template = pipeline().template();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true }, LoggingConfiguration: { Level: 'ALL' } });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    // the state machine publishes to it: it may use the topic's key for that
    const kms = iamStatements(template).filter((x) => x.policy.startsWith('ChurnRole') && asArray(x.statement.Action).some((a) => a.startsWith('kms:')));
    expect(kms.flatMap((x) => asArray(x.statement.Action)).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  it('fits twice in one stack without collisions', () => {
    const { stack } = pipeline({}, 'Churn');
    const dataLake = new DataLake(stack, 'Lake2');
    const ledger = new LineageLedger(stack, 'Ledger2', { wormBucket: dataLake.artifactsBucket });
    const validationGate = new ValidationGate(stack, 'Gate2', { dataLake, ledger });
    new TrainingPipeline(stack, 'Fraud', { dataLake, ledger, validationGate, trainingImage: tasks.DockerImage.fromRegistry('123.dkr.ecr.us-east-1.amazonaws.com/x:1'), label: { column: 'fraud', values: [1] } });
    expect(Object.keys(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'))).toHaveLength(2);
  });

  it('retrains on uploads under its datasets: a rule to a starter that may start this state machine only', () => {
    const template = pipeline({ retrainOnUpload: { datasets: ['churn', 'churn-eu'] } }).template();
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: { 'detail-type': ['Object Created'], detail: { object: { key: [{ prefix: 'data/churn/' }, { prefix: 'data/churn-eu/' }] } } } });
    const starter = iamStatements(template).filter((s) => s.policy.startsWith('ChurnStarter'));
    const starts = starter.filter((s) => asArray(s.statement.Action).includes('states:StartExecution'));
    expect(starts).toHaveLength(1);
    expect(starts[0]!.statement.Resource).toEqual({ Ref: expect.stringMatching(/^Churn[0-9A-F]{8}$/) });
    expect(starter.flatMap((s) => asArray(s.statement.Action)).filter((a) => !a.startsWith('logs:') && !a.startsWith('xray:') && !a.startsWith('sqs:'))).toEqual(['states:StartExecution']);
    expect(() => pipeline({ retrainOnUpload: { datasets: ['a/b'] } })).toThrow("TrainingPipeline: 'retrainOnUpload.datasets' must be folder names under the data prefix (got 'a/b').");
  });

  it('retraining on uploads and on drift: one upload rule to the starter, for every dataset, so each upload is delivered once', () => {
    // GIVEN
    const { construct, stack } = pipeline({ retrainOnUpload: { datasets: ['churn'] } });
    const alarm = new cloudwatch.Alarm(stack, 'Drift', { metric: new cloudwatch.Metric({ namespace: 'cdk-mlops', metricName: 'PredictionDrift' }), threshold: 0.1, evaluationPeriods: 1 });
    // WHEN
    construct.retrainOnAlarm(alarm, { endpointName: 'churn' });
    // THEN
    const t = Template.fromStack(stack);
    const uploads = Object.values(t.findResources('AWS::Events::Rule')).map((r: any) => r.Properties).filter((p: any) => p.EventPattern?.source?.[0] === 'aws.s3');
    expect(uploads).toHaveLength(1);
    expect(uploads[0].EventPattern.detail.object.key).toEqual([{ prefix: 'data/churn/' }, { prefix: 'data/' }]);
    expect(uploads[0].Description).toBe('Retrain churn on uploads (retrainOnUpload datasets, and any dataset whose drift waits for data)');
    expect(construct.dataArrivalRule).toBe(construct.retrainRule);
  });

  describe('releasing to a SageMakerEndpoint', () => {
    const sageMaker = (stack: Stack, props: Partial<SageMakerEndpointProps> = {}, withLedger = true) => {
      const dataLake = new DataLake(stack, 'EndpointLake');
      const ledger = withLedger ? new LineageLedger(stack, 'EndpointLedger', { wormBucket: dataLake.artifactsBucket }) : undefined;
      return new SageMakerEndpoint(stack, 'Serving', { endpointName: 'churn', dataLake, ...(ledger ? { ledger } : {}), imageUri: 'img', initialModelDataUrl: 's3://b/m.tar.gz', ...props });
    };
    const COMPILE = { framework: 'PYTORCH', frameworkVersion: '1.13', dataInputConfig: '{"input0": [1, 8]}' };
    const released = (t: Template): { release: string; deploy: string } => {
      const st = states(t);
      return { release: st['Start release'].Parameters['modelVersionId.$'], deploy: st.Deploy.Parameters['modelVersionId.$'] };
    };

    it('on Inferentia: releases and records the Neo-compiled model through the endpoint deployer', () => {
      // GIVEN / WHEN
      const { template, stack } = pipeline((s) => ({ endpoint: sageMaker(s, { instanceType: HostingInstanceType.INFERENTIA_INF2_XLARGE }), compileForInferentia: COMPILE }));
      const t = template();
      // THEN
      expect(released(t)).toEqual({ release: '$.compiled.compiledModelVersionId', deploy: '$.compiled.compiledModelVersionId' });
      const deployer = stack.resolve(((stack.node.findChild('Serving') as SageMakerEndpoint).deployer!.node.defaultChild as unknown as { logicalId: string }).logicalId) as string;
      expect(JSON.stringify(t.findResources('AWS::StepFunctions::StateMachine')[Object.keys(t.findResources('AWS::StepFunctions::StateMachine')).find((id) => /^Churn[0-9A-F]{8}$/.test(id))!])).toContain(deployer);
    });

    it('on GPU or CPU: releases the trained model (its archive)', () => {
      const t = pipeline((s) => ({ endpoint: sageMaker(s, { instanceType: HostingInstanceType.GPU_G5_XLARGE }) })).template();
      expect(released(t)).toEqual({ release: '$.model.modelVersionId', deploy: '$.model.modelVersionId' });
    });

    it.each([
      ['no ledger (no deployer)', (s: Stack) => ({ endpoint: sageMaker(s, {}, false) }), "SageMakerEndpoint 'churn' has no deployer; give it the 'ledger'"],
      ['Inferentia without compilation', (s: Stack) => ({ endpoint: sageMaker(s, { instanceType: HostingInstanceType.INFERENTIA_INF2_XLARGE }) }), "endpoint 'churn' runs on ml.inf2.xlarge, which serves models compiled by SageMaker Neo; give 'compileForInferentia' (targetDevice 'ml_inf2')."],
      ['compiled for another device', (s: Stack) => ({ endpoint: sageMaker(s, { instanceType: 'ml.inf1.xlarge', trafficShifting: { type: 'ALL_AT_ONCE' } }), compileForInferentia: COMPILE }), "endpoint 'churn' runs on ml.inf1.xlarge, but 'compileForInferentia.targetDevice' is 'ml_inf2'; compile for 'ml_inf1'."],
      ['compiled, to CPU', (s: Stack) => ({ endpoint: sageMaker(s), compileForInferentia: COMPILE }), "endpoint 'churn' runs on ml.c6i.xlarge, which cannot serve Neo's Inferentia models"],
      ['compiled, to serverless', (s: Stack) => ({ endpoint: sageMaker(s, { serverless: { memorySize: Size.gibibytes(2), maxConcurrency: 2 } }), compileForInferentia: COMPILE }), "endpoint 'churn' is serverless, which cannot serve Neo's Inferentia models"],
    ] as [string, (s: Stack) => Partial<TrainingPipelineProps>, string][])('refuses %s', (_name, props, message) => {
      expect(() => pipeline(props)).toThrow(`TrainingPipeline: ${message}`);
    });
  });

  it('warns when network isolation is turned off', () => {
    const { stack } = pipeline({ networkIsolation: false });
    Annotations.fromStack(stack).hasWarning('/Test/Churn', Match.stringLikeRegexp("'networkIsolation' is off"));
  });

  it('registers candidates in a model package group of its own, with approval by the pipeline, IAM limited to that group', () => {
    const { template } = pipeline();
    const t = template();
    t.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'cdk-mlops-churn' });
    t.hasResource('AWS::SageMaker::ModelPackageGroup', { DeletionPolicy: 'Retain' });
    const s = states(t);
    expect(s['Register model']).toMatchObject({
      Resource: expect.stringMatching(/:states:::aws-sdk:sagemaker:createModelPackage$/),
      Parameters: { ModelPackageGroupName: 'cdk-mlops-churn', 'ModelApprovalStatus.$': '$.registration.approvalStatus', 'ClientToken.$': '$.prepare.registrationToken', 'ModelMetrics.$': '$.registration.modelMetrics' },
    });
    expect(s['Register model'].Parameters.InferenceSpecification.Containers[0]).toMatchObject({ 'ModelDataUrl.$': '$.training.ModelArtifacts.S3ModelArtifacts' });
    expect(s['Register model'].Next).toBe('Record approval');
    expect(s['Record approval'].Next).toBe('Deploy');
    expect(s['Ask for approval']).toBeUndefined();
    // evaluation comes before the bias gate, registration after both
    expect(s['Evaluate against champion'].Next).toBe('Better than champion?');
    const sm = iamStatements(t).filter((x) => x.policy.startsWith('ChurnRole'));
    const registry = sm.filter((x) => asArray(x.statement.Action).some((a) => a.startsWith('sagemaker:') && /ModelPackage/i.test(a)));
    expect(registry.flatMap((x) => asArray(x.statement.Action))).toEqual(['sagemaker:createModelPackage']); // automatic approval: no status updates
    expect(JSON.stringify(registry.map((x) => x.statement.Resource))).toMatch(/model-package-group\/cdk-mlops-churn".*model-package\/cdk-mlops-churn\/\*/);
  });

  it('with manual approval: a task token on the notifications topic, a timeout, the package status set from the decision', () => {
    const t = pipeline({ approval: 'manual', approvalTimeout: Duration.hours(48) }).template();
    const s = states(t);
    expect(s['Ask for approval']).toMatchObject({ Resource: expect.stringMatching(/:states:::sns:publish\.waitForTaskToken$/), TimeoutSeconds: 172800, ResultPath: '$.decision' });
    expect(JSON.stringify(s['Ask for approval'].Parameters)).toContain('$$.Task.Token');
    expect(s['Record approval'].Parameters['decision.$']).toBe('$.decision');
    expect(s['Update model package status']).toMatchObject({ Resource: expect.stringMatching(/:states:::aws-sdk:sagemaker:updateModelPackage$/), Parameters: { 'ModelApprovalStatus.$': '$.approval.status' } });
    expect(s['Approved?'].Choices[0].Next).toBe('Deploy');
    expect(s['Ask for approval'].Catch[0].Next).toBe('Record approval error');
  });

  it('compiles for Inferentia with Neo after approval: polled, SageMaker role passed only to SageMaker', () => {
    const t = pipeline({ compileForInferentia: { framework: 'PYTORCH', frameworkVersion: '1.13', dataInputConfig: '{"input0": [1, 8]}' } }).template();
    const s = states(t);
    expect(s['Record approval'].Next).toBe('Compile for Inferentia');
    expect(s['Compile for Inferentia']).toMatchObject({
      Resource: expect.stringMatching(/:states:::aws-sdk:sagemaker:createCompilationJob$/),
      Parameters: { InputConfig: { Framework: 'PYTORCH', FrameworkVersion: '1.13', DataInputConfig: '{"input0": [1, 8]}', 'S3Uri.$': '$.training.ModelArtifacts.S3ModelArtifacts' }, OutputConfig: { TargetDevice: 'ml_inf2' }, StoppingCondition: { MaxRuntimeInSeconds: 3600 } },
      Next: 'Wait for compilation',
    });
    expect(s['Wait for compilation'].Seconds).toBe(30);
    expect(s['Compiled?'].Choices.map((c: any) => c.Next)).toEqual(['Record compiled model', 'Record compilation failure', 'Record compilation stop']);
    expect(s['Compiled?'].Default).toBe('Wait for compilation');
    const pass = iamStatements(t).filter((x) => x.policy.startsWith('ChurnRole')).filter((x) => asArray(x.statement.Action).includes('iam:PassRole'));
    expect(pass.map((x) => x.statement.Condition)).toContainEqual({ StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } });
  });

  it('lets the steps list its own executions (one at a time) without a dependency cycle', () => {
    const t = pipeline().template();
    const list = iamStatements(t).filter((x) => asArray(x.statement.Action).includes('states:ListExecutions'));
    expect(list).toHaveLength(1);
    expect(list[0]!.statement.Resource).toEqual({ Ref: expect.stringMatching(/^Churn[0-9A-F]{8}$/) });
    expect(states(t)['Wait for turn'].Retry[0]).toMatchObject({ ErrorEquals: ['PipelineBusyError'], MaxAttempts: 99, MaxDelaySeconds: 600 });
    // prepare writes the training channel and the holdout to /tmp: room for two 5 GiB files
    t.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('prepares data'), EphemeralStorage: { Size: 10240 } });
  });

  it.each([
    [{ instanceType: 'ml.t2.medium' }, "TrainingPipeline: 'instanceType' must be a SageMaker training instance like ml.g5.xlarge"],
    [{ instanceType: 'g5.xlarge' }, "TrainingPipeline: 'instanceType' must be a SageMaker training instance"],
    [{ spot: { maxWait: Duration.hours(1) }, maxRuntime: Duration.hours(2) }, "TrainingPipeline: 'spot.maxWait' (1 hour) must be at least 'maxRuntime' (2 hours)."],
    [{ instanceCount: 0 }, "TrainingPipeline: 'instanceCount' must be a whole number >= 1 (got 0)."],
    [{ minImprovement: -0.1 }, "TrainingPipeline: 'minImprovement' must be an accuracy difference from 0 to 1 (got -0.1)."],
    [{ spot: {} as { maxWait: Duration } }, "TrainingPipeline: 'spot.maxWait' is required with managed spot training"],
    [{ holdoutPercent: 60 }, "TrainingPipeline: 'holdoutPercent' must be above 0 and at most 50 (got 60)."],
    [{ approvalTimeout: Duration.days(2) }, "TrainingPipeline: 'approvalTimeout' applies to manual approval only"],
    [{ approval: 'sometimes' as 'manual' }, "TrainingPipeline: 'approval' must be 'automatic' or 'manual' (got 'sometimes')."],
    [{ modelPackageGroupName: 'bad_name' }, "TrainingPipeline: 'modelPackageGroupName' must be 1-63 letters, digits and single hyphens (got 'bad_name')."],
    [{ compileForInferentia: { framework: 'ONNX', dataInputConfig: '{"x": [1, 8]}' } }, "TrainingPipeline: 'compileForInferentia.framework' must be one SageMaker Neo compiles for ml_inf2: PYTORCH, TENSORFLOW (got 'ONNX')."],
    [{ compileForInferentia: { framework: 'XGBOOST', dataInputConfig: '{"x": [1, 8]}' } }, "'compileForInferentia.framework' must be one SageMaker Neo compiles for ml_inf2"],
    [{ compileForInferentia: { framework: 'PYTORCH', dataInputConfig: '[1, 8]' } }, "TrainingPipeline: 'compileForInferentia.dataInputConfig' must be JSON naming each input and its shape"],
    [{ compileForInferentia: { framework: 'PYTORCH', dataInputConfig: '{"x": [1, 8]}', targetDevice: 'ml_c5' as 'ml_inf2' } }, "TrainingPipeline: 'compileForInferentia.targetDevice' must be one of ml_inf2, ml_inf1 (got 'ml_c5')."],
    [{ pipelineName: 'Has Spaces' }, "TrainingPipeline: 'pipelineName' must be 1-40 lower-case letters, digits and hyphens (got 'Has Spaces')."],
  ] as [Partial<TrainingPipelineProps>, string][])('rejects bad props naming the prop: %#', (props, message) => {
    expect(() => pipeline(props)).toThrow(message);
  });
});
