import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { DataLake, HostingInstanceType, LineageLedger, SageMakerEndpoint, type SageMakerEndpointProps } from '../../lib';
import { iamStatements, SKIP_BUNDLING, testStack } from '../helpers/stacks';

const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:v1';

function endpoint(props: Partial<SageMakerEndpointProps> | ((stack: Stack) => Partial<SageMakerEndpointProps>) = {}, stack: Stack = testStack()) {
  const dataLake = new DataLake(stack, 'Lake');
  const p = typeof props === 'function' ? props(stack) : props;
  const construct = new SageMakerEndpoint(stack, 'Wages', { dataLake, imageUri: IMAGE, initialModelDataUrl: 's3://bucket/models/wages/model.tar.gz', ...p });
  return { stack, construct, template: () => Template.fromStack(stack) };
}

const config = (t: Template): any => (Object.values(t.findResources('AWS::SageMaker::EndpointConfig'))[0] as any).Properties;

describe('SageMakerEndpoint', () => {
  it('serves on a GPU variant with data capture to the artifacts bucket, network isolated', () => {
    // GIVEN / WHEN
    const t = endpoint({ instanceType: HostingInstanceType.GPU_G5_XLARGE, initialInstanceCount: 2, dataCapturePercent: 20 }).template();
    // THEN
    const c = config(t);
    expect(c.ProductionVariants).toEqual([expect.objectContaining({ VariantName: 'AllTraffic', InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 2, InitialVariantWeight: 1 })]);
    expect(c.DataCaptureConfig).toMatchObject({ EnableCapture: true, InitialSamplingPercentage: 20, CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }], KmsKeyId: expect.anything() });
    expect(JSON.stringify(c.DataCaptureConfig.DestinationS3Uri)).toContain('/captures/wages');
    // g5 has NVMe instance storage: SageMaker refuses a storage key there
    expect(c.KmsKeyId).toBeUndefined();
    t.hasResourceProperties('AWS::SageMaker::Model', { EnableNetworkIsolation: true, PrimaryContainer: { Image: IMAGE, ModelDataUrl: 's3://bucket/models/wages/model.tar.gz' } });
  });

  it('encrypts the storage volume of instances without an instance store (CPU, Inferentia)', () => {
    const t = endpoint({ instanceType: HostingInstanceType.INFERENTIA_INF2_XLARGE }).template();
    expect(config(t).KmsKeyId).toBeDefined();
    expect(config(t).ProductionVariants[0].InstanceType).toBe('ml.inf2.xlarge');
  });

  it('notes that Inferentia serves Neo-compiled models, and warns that inf1 has no guardrails', () => {
    const { construct } = endpoint({ instanceType: 'ml.inf1.xlarge' });
    Annotations.fromStack(Stack.of(construct)).hasWarning('/Test/Wages', 'SageMakerEndpoint: SageMaker deployment guardrails do not support Inf1 instances; updates fall back to all-at-once blue/green with no baking period. [ack: cdk-mlops:inf1NoGuardrails]');
  });

  it('updates blue/green with canary traffic shifting and rolls back on its alarms', () => {
    const t = endpoint({ trafficShifting: { size: 20, waitInterval: Duration.minutes(10), terminationWait: Duration.minutes(2) } }).template();
    const [ep] = Object.values(t.findResources('AWS::SageMaker::Endpoint')) as any[];
    expect(ep.Properties.EndpointName).toBe('wages');
    expect(ep.Properties.DeploymentConfig.BlueGreenUpdatePolicy).toEqual({
      TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 20 }, WaitIntervalInSeconds: 600 },
      TerminationWaitInSeconds: 120,
    });
    const alarms = Object.keys(t.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(2);
    expect(ep.Properties.DeploymentConfig.AutoRollbackConfiguration.Alarms).toEqual(alarms.map((id) => ({ AlarmName: { Ref: id } })));
    const props = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
    expect(props.find((p) => p.ExtendedStatistic === 'p99')).toMatchObject({ MetricName: 'ModelLatency', Namespace: 'AWS/SageMaker', Threshold: 1_000_000, Dimensions: [{ Name: 'EndpointName', Value: 'wages' }, { Name: 'VariantName', Value: 'AllTraffic' }] });
    expect(props.find((p) => p.Metrics)!.Metrics.find((m: any) => m.Expression).Expression).toBe('FILL(errors, 0) / invocations');
  });

  it('shifts linearly when asked', () => {
    const t = endpoint({ trafficShifting: { type: 'LINEAR', size: 25 } }).template();
    const [ep] = Object.values(t.findResources('AWS::SageMaker::Endpoint')) as any[];
    expect(ep.Properties.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration).toEqual({ Type: 'LINEAR', LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: 25 }, WaitIntervalInSeconds: 300 });
  });

  it('autoscales on invocations per instance (target tracking)', () => {
    const t = endpoint({ autoscaling: { minCapacity: 1, maxCapacity: 8, targetInvocationsPerInstance: 250 } }).template();
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { ServiceNamespace: 'sagemaker', ScalableDimension: 'sagemaker:variant:DesiredInstanceCount', ResourceId: 'endpoint/wages/variant/AllTraffic', MinCapacity: 1, MaxCapacity: 8 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: { TargetValue: 250, PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' } } });
  });

  it('offers serverless inference (no instances, no capture, no isolation flag)', () => {
    const t = endpoint({ serverless: { memorySize: Size.gibibytes(4), maxConcurrency: 20, provisionedConcurrency: 2 } }).template();
    const c = config(t);
    expect(c.ProductionVariants[0]).toMatchObject({ ServerlessConfig: { MemorySizeInMB: 4096, MaxConcurrency: 20, ProvisionedConcurrency: 2 } });
    expect(c.ProductionVariants[0].InstanceType).toBeUndefined();
    expect(c.DataCaptureConfig).toBeUndefined();
  });

  it('runs in a VPC with its own closed security group when given one', () => {
    const t = endpoint((stack) => ({ vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 }) })).template();
    const [model] = Object.values(t.findResources('AWS::SageMaker::Model')) as any[];
    expect(model.Properties.VpcConfig.Subnets).toHaveLength(2);
    expect(model.Properties.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^WagesSecurityGroup/), 'GroupId'] }]);
    const [sg] = Object.values(t.findResources('AWS::EC2::SecurityGroup')) as any[];
    expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    expect(sg.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ Description: 'Disallow all traffic' })]);
  });

  it('scopes the execution role: reads models, writes its captures, pulls its image', () => {
    const { stack, template } = endpoint((s) => ({ imageRepository: ecr.Repository.fromRepositoryName(s, 'Repo', 'inference') }));
    void stack;
    const statements = iamStatements(template());
    const text = (v: unknown) => JSON.stringify(v);
    expect(statements.some((s) => text(s.statement.Resource).includes('captures/wages/*'))).toBe(true);
    expect(statements.some((s) => text(s.statement.Action).includes('ecr:BatchGetImage'))).toBe(true);
    const metrics = statements.find((s) => text(s.statement.Action).includes('cloudwatch:PutMetricData'))!;
    expect(metrics.statement.Condition).toEqual({ StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'AWS/SageMaker'] } });
  });

  it('grants invoking the endpoint', () => {
    const { stack, construct, template } = endpoint();
    const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    construct.grantInvoke(caller);
    expect(iamStatements(template()).find((s) => s.policy.startsWith('Caller'))!.statement.Action).toBe('sagemaker:InvokeEndpoint');
  });

  it('releases ledger model versions through a deployer with the same guardrails, when given the ledger', () => {
    const { stack, construct, template } = endpoint((s) => ({ ledger: new LineageLedger(s, 'Ledger', { wormBucket: new DataLake(s, 'Lake2').artifactsBucket }) }));
    const t = template();
    const deployer = Object.values(t.findResources('AWS::Lambda::Function')).find((f: any) => String(f.Properties.Description).includes('SageMaker endpoint')) as any;
    expect(deployer.Properties.Environment.Variables).toMatchObject({ ENDPOINT_KIND: 'sagemaker', ENDPOINT_NAME: 'wages', REQUIRE_APPROVAL: 'true' });
    const guardrails = JSON.stringify(deployer.Properties.Environment.Variables.DEPLOYMENT_CONFIG);
    expect(guardrails).toContain('\\"TrafficRoutingConfiguration\\":{\\"Type\\":\\"CANARY\\"');
    expect(guardrails).toContain('AutoRollbackConfiguration');
    const statements = iamStatements(t).filter((s) => s.policy.startsWith('WagesDeployer'));
    const actions = statements.flatMap((s) => (Array.isArray(s.statement.Action) ? s.statement.Action : [s.statement.Action]));
    expect(actions).toEqual(expect.arrayContaining(['sagemaker:UpdateEndpoint', 'sagemaker:CreateModel', 'sagemaker:CreateEndpointConfig', 'iam:PassRole']));
    expect(actions.some((a) => /sagemaker:(Delete|\*)/.test(a))).toBe(false);
    const pass = statements.find((s) => s.statement.Action === 'iam:PassRole')!;
    expect(pass.statement.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } });
    expect(construct.releaseStateMachine).toBeDefined();
    const caller = new iam.Role(stack, 'Releaser', { assumedBy: new iam.AccountRootPrincipal() });
    construct.grantRelease(caller);
  });

  it('refuses grantRelease without the ledger, saying what to give', () => {
    const { construct, stack } = endpoint();
    expect(() => construct.grantRelease(new iam.Role(stack, 'R', { assumedBy: new iam.AccountRootPrincipal() }))).toThrow("SageMakerEndpoint: releases need 'ledger'; give the endpoint the ledger to release through the kit.");
  });

  it('passes cdk-nag AwsSolutions with its wildcards acknowledged', () => {
    const app = new App({ context: SKIP_BUNDLING });
    const stack = new Stack(app, 'Nag', { env: { account: '123456789012', region: 'us-east-1' } });
    endpoint((s) => ({ instanceType: HostingInstanceType.GPU_G5_XLARGE, autoscaling: { maxCapacity: 4, targetInvocationsPerInstance: 100 }, ledger: new LineageLedger(s, 'Ledger', { wormBucket: new DataLake(s, 'Lake2').artifactsBucket }) }), stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it.each([
    [{ endpointName: 'bad_name' }, "SageMakerEndpoint: 'endpointName' must be 1-63 letters, digits and single hyphens (got 'bad_name')."],
    [{ instanceType: 'ml.x9.huge' }, "SageMakerEndpoint: 'instanceType' must be a SageMaker hosting instance like ml.g5.xlarge, ml.inf2.xlarge or ml.c6i.xlarge (got 'ml.x9.huge')."],
    [{ initialInstanceCount: 0 }, "SageMakerEndpoint: 'initialInstanceCount' must be a whole number >= 1 (got 0)."],
    [{ autoscaling: { minCapacity: 3, maxCapacity: 2, targetInvocationsPerInstance: 10 } }, "SageMakerEndpoint: 'autoscaling' needs maxCapacity >= minCapacity (3) and targetInvocationsPerInstance > 0."],
    [{ dataCapturePercent: 101 }, "SageMakerEndpoint: 'dataCapturePercent' must be a whole number from 0 to 100 (got 101)."],
    [{ trafficShifting: { size: 0 } }, "SageMakerEndpoint: 'trafficShifting.size' must be a whole percent from 1 to 99 (got 0)."],
    [{ serverless: { memorySize: Size.gibibytes(4), maxConcurrency: 5 }, instanceType: 'ml.g5.xlarge' }, "SageMakerEndpoint: give 'instanceType' or 'serverless', not both."],
    [{ serverless: { memorySize: Size.mebibytes(1500), maxConcurrency: 5 } }, "SageMakerEndpoint: 'serverless.memorySize' must be 1, 2, 3, 4, 5 or 6 GiB (got 1500 MiB)."],
    [{ serverless: { memorySize: Size.gibibytes(2), maxConcurrency: 500 } }, "SageMakerEndpoint: 'serverless.maxConcurrency' must be a whole number from 1 to 200 (got 500)."],
    [{ serverless: { memorySize: Size.gibibytes(2), maxConcurrency: 5 }, dataCapturePercent: 5 }, "SageMakerEndpoint: serverless endpoints do not support data capture; remove 'dataCapturePercent'."],
    [{ serverless: { memorySize: Size.gibibytes(2), maxConcurrency: 5 }, autoscaling: { maxCapacity: 2, targetInvocationsPerInstance: 1 } }, "SageMakerEndpoint: 'autoscaling' is for instances; serverless endpoints scale by 'serverless.maxConcurrency'."],
  ])('rejects bad props: %j', (props, message) => {
    expect(() => endpoint(props as Partial<SageMakerEndpointProps>)).toThrow(message);
  });
});
