import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { DataLakeExampleStack } from '../../docs/examples/data-lake';
import { DatasetIngestExampleStack } from '../../docs/examples/dataset-ingest';
import { EndpointsExampleStack } from '../../docs/examples/endpoints';
import { GatesExampleStack, ValidateThenTrainExampleStack } from '../../docs/examples/gates';
import { LineageLedgerExampleStack } from '../../docs/examples/lineage-ledger';
import { MonitoringExampleStack } from '../../docs/examples/monitoring';
import { TrainingPipelineExampleStack } from '../../docs/examples/training-pipeline';
import { SKIP_BUNDLING } from '../helpers/stacks';

function nagged(): App {
  const app = new App({ context: SKIP_BUNDLING });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

describe('documentation examples', () => {
  it('DataLake example: your key, COMPLIANCE lock, upload-only grant', () => {
    const app = new App({ context: SKIP_BUNDLING });
    const stack = new DataLakeExampleStack(app, 'Example');
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', { ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } } } });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 's3:PutObject' })]) } });
  });

  it('LineageLedger example: the recorder may append and nothing more', () => {
    const app = new App({ context: SKIP_BUNDLING });
    const stack = new LineageLedgerExampleStack(app, 'Example');
    const json = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(json).toContain('dynamodb:PutItem');
    expect(json).not.toMatch(/dynamodb:(UpdateItem|DeleteItem|BatchWriteItem|\*)/);
  });

  it('DatasetIngest example: synthesizes with your bucket and warns that its settings are yours', () => {
    const app = nagged();
    const stack = new DatasetIngestExampleStack(app, 'Example', { existingDataBucketName: 'team-data' });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', { EventPattern: { detail: { bucket: { name: ['team-data'] } } } });
    Annotations.fromStack(stack).hasWarning('/Example/Lake', Match.stringLikeRegexp('dataBucket is brought by you'));
    expect(() => app.synth()).not.toThrow();
  });

  it('gates example: both gates synthesize under cdk-nag with the thresholds in their environment', () => {
    const app = nagged();
    const stack = new GatesExampleStack(app, 'Gates');
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ DRIFT_THRESHOLDS: '{"psi":0.25,"ks":0.15}' }) } });
    expect(() => app.synth()).not.toThrow();
  });

  it('ValidateDataset fragment example: your state machine branches on the verdict, under cdk-nag', () => {
    const app = nagged();
    const stack = new ValidateThenTrainExampleStack(app, 'Pipeline');
    const [sm] = Object.values(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine')) as any[];
    const asl = JSON.stringify(sm.Properties.DefinitionString);
    expect(asl).toContain('\\"Mode\\":\\"DISTRIBUTED\\"');
    expect(asl).toContain('$.validation.passed');
    expect(() => app.synth()).not.toThrow();
  });

  it('TrainingPipeline example: your bucket, key, VPC and image; GPU spot training in private subnets with manual approval, and a Trainium pipeline compiled for Inferentia, under cdk-nag', () => {
    const app = new App({ context: { ...SKIP_BUNDLING, 'vpc-provider:account=123456789012:filter.vpc-id=vpc-0123456789abcdef0:region=eu-west-1:returnAsymmetricSubnets=true': VPC_LOOKUP } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new TrainingPipelineExampleStack(app, 'Train', { env: { account: '123456789012', region: 'eu-west-1' }, existingDataBucketName: 'team-data', existingKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', vpcId: 'vpc-0123456789abcdef0' });
    const template = Template.fromStack(stack);
    const machines = Object.entries(template.findResources('AWS::StepFunctions::StateMachine'));
    const [churn, defects] = ['Churn', 'Defects'].map((id) => JSON.stringify(machines.filter(([logicalId]) => logicalId.startsWith(id))));
    expect(churn).toContain('ml.g5.xlarge');
    expect(churn).toContain('EnableManagedSpotTraining');
    expect(churn).toContain('subnet-isolated-a');
    expect(churn).toContain('sns:publish.waitForTaskToken');
    expect(defects).toContain('ml.trn1.2xlarge');
    expect(defects).toContain('createCompilationJob');
    template.resourceCountIs('AWS::SageMaker::ModelPackageGroup', 2);
    expect(() => app.synth()).not.toThrow();
  });

  it('endpoints example: ONNX with provisioned concurrency and a linear rollout, SageMaker on Inferentia2 watched for drift, under cdk-nag', () => {
    const app = nagged();
    const stack = new EndpointsExampleStack(app, 'Example', { env: { account: '123456789012', region: 'us-east-1' } });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute' });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { ServiceNamespace: 'lambda', MinCapacity: 2, MaxCapacity: 20 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { ServiceNamespace: 'sagemaker', MinCapacity: 1, MaxCapacity: 4 });
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { ProductionVariants: [Match.objectLike({ InstanceType: 'ml.inf2.xlarge' })] });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CAPTURE_PREFIX: 'captures/churninf2/churninf2/AllTraffic/', CAPTURE_FORMAT: 'sagemaker' }) } });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)' });
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'churn-endpoints' });
    expect(() => app.synth()).not.toThrow();
  });

  it('Monitoring example: drift every 30 minutes over 2 hours retrains the pipeline; one dashboard', () => {
    const app = nagged();
    const stack = new MonitoringExampleStack(app, 'Example', { env: { account: '123456789012', region: 'us-east-1' } });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ WINDOW_MINUTES: '120', PIPELINE_NAME: 'churnpipeline' }) } });
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { EvaluationPeriods: 2, Threshold: 1 }, 3); // one per feature
    t.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['aws.cloudwatch'], resources: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^ChurnDriftDriftAlarm'), 'Arn'] }] } });
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'churn-operations' });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ ROLLBACK_WINDOW_MINUTES: '120' }) } });
    expect(() => app.synth()).not.toThrow();
  });
});

/** A VPC as the context provider would return it: two isolated subnets. */
const VPC_LOOKUP = {
  vpcId: 'vpc-0123456789abcdef0',
  vpcCidrBlock: '10.0.0.0/16',
  ownerAccountId: '123456789012',
  availabilityZones: [],
  subnetGroups: [
    {
      name: 'Isolated',
      type: 'Isolated',
      subnets: [
        { subnetId: 'subnet-isolated-a', cidr: '10.0.0.0/24', availabilityZone: 'eu-west-1a', routeTableId: 'rtb-a' },
        { subnetId: 'subnet-isolated-b', cidr: '10.0.1.0/24', availabilityZone: 'eu-west-1b', routeTableId: 'rtb-b' },
      ],
    },
  ],
};
