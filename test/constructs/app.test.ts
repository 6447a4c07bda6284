import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { isWildcardOnlyAction } from '@cloud-copilot/iam-simulate';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { HIPAASecurityChecks, PCIDSS321Checks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp, cdkJsonContext } from '../../bin/app';
import { APP_CONTEXT } from '../helpers/stacks';

const ROOT = path.resolve(__dirname, '..', '..');

/** Every acknowledgement in the tree: [construct path, rule id, reason]. */
function acknowledgements(app: App): [string, string, string][] {
  return app.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      // recorded as { 'Annotation::<rule id>': reason }
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]): [string, string, string] => [c.node.path, id.replace(/^Annotation::/, ''), reason]),
  );
}

describe('reference app', () => {
  it('passes cdk-nag AwsSolutions, NIST 800-53 rev5 and Serverless with zero unacknowledged findings', () => {
    // GIVEN the whole app, with the nag plugins buildApp installs
    const { app } = buildApp({ context: APP_CONTEXT() });
    // WHEN / THEN synth runs every rule and throws on any unacknowledged finding
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth when a finding is not acknowledged (the check can fail)', () => {
    const { app, stack } = buildApp({ context: APP_CONTEXT() });
    new s3.Bucket(stack, 'Careless'); // no SSL enforcement, no access logs
    expect(() => app.synth()).toThrow(/AwsSolutions-S10|AwsSolutions-S1\b/);
  });

  it('acknowledges only these findings, each with a reason', () => {
    const { app } = buildApp({ context: APP_CONTEXT() });
    app.synth(); // some acknowledgements are made by aspects, once CDK has written the policies
    const acks = acknowledgements(app);
    for (const [where, id, reason] of acks) expect(reason.length, `${where} ${id}`).toBeGreaterThan(40);
    expect([...new Set(acks.filter(([, id]) => id.startsWith('AwsSolutions-')).map(([where, id]) => `${where} ${id}`))].sort()).toEqual([
      'CdkMlops/BiasGate/Function/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/BiasGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/models/*]',
      'CdkMlops/BiasGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/reports/*]',
      'CdkMlops/BiasGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeDataBucket4C86F66D.Arn>/data/*]',
      'CdkMlops/BiasGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/DataLake/AccessLogsBucket AwsSolutions-S1',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/profiles/*]',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Role AwsSolutions-IAM5[Resource::<DataLakeDataBucket4C86F66D.Arn>/data/*]',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/DatasetValidation/Resource AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/DatasetValidation/Resource AwsSolutions-IAM5[Resource::<DatasetValidationProfileShardsFunction611915DA.Arn>:*]',
      'CdkMlops/DatasetValidation/Resource AwsSolutions-IAM5[Resource::<ValidationGateFunction135AD2B2.Arn>:*]',
      'CdkMlops/DatasetValidation/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"DatasetValidation8FF23762"}]}]}/ProfileShards:*]',
      'CdkMlops/DatasetValidation/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"DatasetValidation8FF23762"}]}]}:*]',
      'CdkMlops/DriftMonitor/Function/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/DriftMonitor/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/captures/cps-wages/*]',
      'CdkMlops/DriftMonitor/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/profiles/*]',
      'CdkMlops/DriftMonitor/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/reports/drift/cps-wages/*]',
      'CdkMlops/DriftMonitor/Function/Role AwsSolutions-IAM5[Resource::<DataLakeDataBucket4C86F66D.Arn>/data/*]',
      'CdkMlops/DriftMonitor/Function/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/Endpoint/Deployer/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/Endpoint/Deployer/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/contracts/*]',
      'CdkMlops/Endpoint/Deployer/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/models/*]',
      'CdkMlops/Endpoint/Deployer/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/releases/cps-wages/contracts/*]',
      'CdkMlops/Endpoint/Deployer/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/Endpoint/DeploymentGroup/ServiceRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      'CdkMlops/Endpoint/Function/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/Endpoint/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/captures/cps-wages/*]',
      'CdkMlops/Endpoint/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/models/*]',
      'CdkMlops/Endpoint/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/releases/cps-wages/contracts/*]',
      'CdkMlops/Endpoint/Function/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/Endpoint/ReleaseStateMachine AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/Endpoint/ReleaseStateMachine AwsSolutions-IAM5[Resource::<EndpointDeployerF80F95F7.Arn>:*]',
      'CdkMlops/Ingest/Function/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/Ingest/Function/Role AwsSolutions-IAM5[Resource::<DataLakeDataBucket4C86F66D.Arn>/data/*]',
      'CdkMlops/Ingest/Function/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::<BiasGateFunction355879E4.Arn>:*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::<DatasetValidationProfileShardsFunction611915DA.Arn>:*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::<EndpointDeployerF80F95F7.Arn>:*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::<TrainingPipelineStepsEBAC1E3E.Arn>:*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::<ValidationGateFunction135AD2B2.Arn>:*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model-package/cdk-mlops-cps-wages/*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"TrainingPipeline61E5D6AF"}]}]}/ProfileShards:*]',
      'CdkMlops/TrainingPipeline/Resource AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"TrainingPipeline61E5D6AF"}]}]}:*]',
      'CdkMlops/TrainingPipeline/Starter/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/TrainingPipeline/Starter/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/TrainingPipeline/Steps/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/TrainingPipeline/Steps/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/models/cps-wages/*]',
      'CdkMlops/TrainingPipeline/Steps/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/reports/evaluation/cps-wages/*]',
      'CdkMlops/TrainingPipeline/Steps/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/training/cps-wages/jobs/*]',
      'CdkMlops/TrainingPipeline/Steps/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/training/cps-wages/snapshots/*]',
      'CdkMlops/TrainingPipeline/Steps/Role AwsSolutions-IAM5[Resource::<DataLakeDataBucket4C86F66D.Arn>/data/*]',
      'CdkMlops/TrainingPipeline/Steps/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
      'CdkMlops/TrainingPipeline/TrainingRole AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'CdkMlops/TrainingPipeline/TrainingRole AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      'CdkMlops/TrainingPipeline/TrainingRole AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/TrainingPipeline/TrainingRole AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/training/cps-wages/checkpoints/*]',
      'CdkMlops/TrainingPipeline/TrainingRole AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/training/cps-wages/jobs/*]',
      'CdkMlops/TrainingPipeline/TrainingRole AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/training/cps-wages/snapshots/*]',
      'CdkMlops/TrainingPipeline/TrainingRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs:*]',
      'CdkMlops/ValidationGate/Function/Role AwsSolutions-IAM5[Resource::*]',
      'CdkMlops/ValidationGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/contracts/*]',
      'CdkMlops/ValidationGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/profiles/*]',
      'CdkMlops/ValidationGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeArtifactsBucket98FD8488.Arn>/reports/*]',
      'CdkMlops/ValidationGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeDataBucket4C86F66D.Arn>/data/*]',
      'CdkMlops/ValidationGate/Function/Role AwsSolutions-IAM5[Resource::<DataLakeLedgerBucket619CA2B9.Arn>/ledger/*]',
    ]);
  });

  it('passes the HIPAA Security and PCI DSS 3.2.1 packs as well (their rules that NIST shares carry the same reasons)', () => {
    const { app } = buildApp({ context: APP_CONTEXT() });
    Validations.of(app).addPlugins(new HIPAASecurityChecks(app), new PCIDSS321Checks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth on a NIST 800-53 rev5 or a Serverless finding that is not acknowledged', () => {
    // GIVEN the app with a careless table and queue
    const { app, stack } = buildApp({ context: APP_CONTEXT() });
    new dynamodb.Table(stack, 'Careless', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    new sqs.Queue(stack, 'CarelessQueue', { enforceSSL: true });
    // THEN each pack's finding fails the synth
    let message = '';
    try {
      app.synth();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('NIST.800.53.R5-DynamoDBInBackupPlan');
    expect(message).toContain('Serverless-SQSRedrivePolicy');
  });

  it("acknowledges only these NIST 800-53 rev5 and Serverless findings, each with a reason that names what it covers", () => {
    const { app } = buildApp({ context: APP_CONTEXT() });
    app.synth();
    const acks = acknowledgements(app).filter(([, id]) => /^(NIST\.800\.53\.R5|Serverless)-/.test(id));
    for (const [where, id, reason] of acks) expect(reason.length, `${where} ${id}`).toBeGreaterThan(60);
    // every function acknowledged as invoked synchronously has no dead-letter queue; every one without a reservation says what bounds it
    const reasonOf = (where: string, id: string): string => acks.find(([w, i]) => w === where && i === id)?.[2] ?? '';
    expect(reasonOf('CdkMlops/Endpoint/Function/Resource/Resource', 'NIST.800.53.R5-LambdaConcurrency')).toContain('OnnxEndpointProps.reservedConcurrentExecutions');
    expect(reasonOf('CdkMlops/Ingest/Function/Resource/Resource', 'NIST.800.53.R5-LambdaConcurrency')).toContain('DatasetIngestProps.reservedConcurrentExecutions');
    expect(reasonOf('CdkMlops/ValidationGate/Function/Resource/Resource', 'NIST.800.53.R5-LambdaDLQ')).toMatch(/^Invoked synchronously/);
    expect([...new Set(acks.map(([where, id]) => `${where} ${id}`))].sort()).toEqual([
      'CdkMlops/BiasGate/Function/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/BiasGate/Function/Resource/Resource NIST.800.53.R5-LambdaDLQ',
      'CdkMlops/BiasGate/Function/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/BiasGate/Function/Resource/Resource Serverless-LambdaDLQ',
      'CdkMlops/BiasGate/Function/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/DataLake/AccessLogsBucket NIST.800.53.R5-S3BucketReplicationEnabled',
      'CdkMlops/DataLake/AccessLogsBucket NIST.800.53.R5-S3DefaultEncryptionKMS',
      'CdkMlops/DataLake/ArtifactsBucket NIST.800.53.R5-S3BucketReplicationEnabled',
      'CdkMlops/DataLake/DataBucket NIST.800.53.R5-S3BucketReplicationEnabled',
      'CdkMlops/DataLake/LedgerBucket NIST.800.53.R5-S3BucketReplicationEnabled',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Resource/Resource NIST.800.53.R5-LambdaDLQ',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Resource/Resource Serverless-LambdaDLQ',
      'CdkMlops/DatasetValidation/ProfileShards/Function/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/DatasetValidation/Resource NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/DriftMonitor/DeadLetterQueue Serverless-SQSRedrivePolicy',
      'CdkMlops/DriftMonitor/FeatureAlarm0 NIST.800.53.R5-CloudWatchAlarmAction',
      'CdkMlops/DriftMonitor/Function/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/DriftMonitor/Function/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/DriftMonitor/Function/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/DriftMonitor/PredictionAlarm NIST.800.53.R5-CloudWatchAlarmAction',
      'CdkMlops/Endpoint/Deployer/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/Endpoint/Deployer/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/Endpoint/Deployer/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/Endpoint/ErrorRateAlarm NIST.800.53.R5-CloudWatchAlarmAction',
      'CdkMlops/Endpoint/Function/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/Endpoint/Function/Resource/Resource NIST.800.53.R5-LambdaDLQ',
      'CdkMlops/Endpoint/Function/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/Endpoint/Function/Resource/Resource Serverless-LambdaDLQ',
      'CdkMlops/Endpoint/Function/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/Endpoint/IntegrityAlarm NIST.800.53.R5-CloudWatchAlarmAction',
      'CdkMlops/Endpoint/LatencyAlarm NIST.800.53.R5-CloudWatchAlarmAction',
      'CdkMlops/Endpoint/PredictionShiftAlarm NIST.800.53.R5-CloudWatchAlarmAction',
      'CdkMlops/Endpoint/ReleaseStateMachine NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/Endpoint/RollbackDeadLetterQueue Serverless-SQSRedrivePolicy',
      'CdkMlops/Ingest/DeadLetterQueue Serverless-SQSRedrivePolicy',
      'CdkMlops/Ingest/Function/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/Ingest/Function/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/Ingest/Function/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/Ledger/Resource NIST.800.53.R5-DynamoDBInBackupPlan',
      'CdkMlops/TrainingPipeline/Resource NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/TrainingPipeline/Starter/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/TrainingPipeline/Starter/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/TrainingPipeline/Starter/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/TrainingPipeline/StarterDeadLetterQueue Serverless-SQSRedrivePolicy',
      'CdkMlops/TrainingPipeline/Steps/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/TrainingPipeline/Steps/Resource/Resource NIST.800.53.R5-LambdaDLQ',
      'CdkMlops/TrainingPipeline/Steps/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/TrainingPipeline/Steps/Resource/Resource Serverless-LambdaDLQ',
      'CdkMlops/TrainingPipeline/Steps/Role NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/TrainingPipeline/StepsListExecutions NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/TrainingPipeline/TrainingRole NIST.800.53.R5-IAMNoInlinePolicy',
      'CdkMlops/ValidationGate/Function/Resource/Resource NIST.800.53.R5-LambdaConcurrency',
      'CdkMlops/ValidationGate/Function/Resource/Resource NIST.800.53.R5-LambdaDLQ',
      'CdkMlops/ValidationGate/Function/Resource/Resource NIST.800.53.R5-LambdaInsideVPC',
      'CdkMlops/ValidationGate/Function/Resource/Resource Serverless-LambdaDLQ',
      'CdkMlops/ValidationGate/Function/Role NIST.800.53.R5-IAMNoInlinePolicy',
    ]);
  });

  it('allows Resource::* only for actions that cannot name a resource, and each acknowledgement of it names every action it covers', async () => {
    // GIVEN the app as synthesized, with its acknowledgements
    const { app } = buildApp({ context: APP_CONTEXT() });
    app.synth();
    const anyResource = app.node
      .findAll()
      .filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy)
      .flatMap((p) => ((Stack.of(p).resolve(p.policyDocument) as { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] }).Statement ?? []).map((s) => ({ path: p.node.path, statement: s })))
      .filter(({ statement }) => statement.Effect === 'Allow' && [statement.Resource].flat().includes('*'));
    // THEN every such action is wildcard-only in the Service Authorization Reference (iam-data), or one of these, with why
    const NAMED_EXCEPTIONS: Record<string, string> = {
      'sagemaker:ListTags': "CDK's SageMaker .sync task grants it on *, as Step Functions documents; it reads tags only",
      'cloudwatch:PutMetricData': "its only resource type is an optional CloudWatch dataset, which SageMaker's training metrics name none of",
    };
    for (const { path, statement } of anyResource) {
      for (const action of [statement.Action].flat()) {
        const [service, name] = action.split(':') as [string, string];
        if (NAMED_EXCEPTIONS[action]) continue;
        expect(await isWildcardOnlyAction(service, name), `${path}: ${action} on Resource::* could name a resource`).toBe(true);
      }
    }
    // AND each Resource::* acknowledgement names, in its reason, every action of the statements it covers (and covers some)
    const starAcks = acknowledgements(app).filter(([, id]) => id === 'AwsSolutions-IAM5[Resource::*]');
    expect(starAcks.length).toBeGreaterThan(5);
    const named = (reason: string, action: string): boolean => {
      const [service, name] = action.split(':') as [string, string];
      const tokens = reason.match(/[A-Za-z0-9-]+:[A-Za-z*]+|[A-Z][A-Za-z]+\*?/g) ?? [];
      return tokens.some((t) => t === action || t === name || (t.endsWith('*') && (t.includes(':') ? action : name).startsWith(t.slice(0, -1)))) && reason.toLowerCase().includes(service === 'xray' ? 'x-ray' : service === 'logs' ? 'log' : service);
    };
    for (const [where, , reason] of starAcks) {
      const covered = anyResource.filter(({ path }) => path.startsWith(`${where}/`));
      expect(covered.length, `${where}: acknowledges Resource::* but has no such statement`).toBeGreaterThan(0);
      for (const { path, statement } of covered) {
        for (const action of [statement.Action].flat()) expect(named(reason, action), `${path}: ${action} is not named by the acknowledgement on ${where}: "${reason}"`).toBe(true);
      }
    }
  });

  it("encrypts every log group with the data lake's key, which CloudWatch Logs may use for this account's log groups only", () => {
    const { stack } = buildApp({ context: APP_CONTEXT() });
    const t = Template.fromStack(stack);
    const keyId = stack.getLogicalId(stack.dataLake.encryptionKey.node.defaultChild as CfnElement);
    const groups = Object.entries(t.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThan(10); // each function's, and the three state machines' (which log every input and output)
    for (const [id, g] of groups) expect(g.Properties.KmsKeyId, id).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'CloudWatchLogsEncryptsLogGroupsOfThisAccount', Effect: 'Allow', Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } }, Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': Match.anyValue() } } }),
        ]),
      },
    });
  });

  it('notifies a topic when uploads land in the ingest dead-letter queue', () => {
    const { stack } = buildApp({ context: APP_CONTEXT() });
    const t = Template.fromStack(stack);
    const topicId = stack.getLogicalId(stack.ingest.alarmTopic.node.defaultChild as CfnElement);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmDescription: Match.stringLikeRegexp('dead-letter queue'), AlarmActions: [{ Ref: topicId }] });
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasOutput('AlarmTopicArn', {});
  });

  it.each([
    [{ 'cdk-mlops:objectLockMode': 'SOMETIMES' }, /context 'cdk-mlops:objectLockMode' must be GOVERNANCE or COMPLIANCE/],
    [{ 'cdk-mlops:objectLockRetentionDays': 0 }, /context 'cdk-mlops:objectLockRetentionDays' must be a whole number of days >= 1 \(got 0\)/],
    [{ 'cdk-mlops:objectLockRetentionDays': '3.5' }, /'cdk-mlops:objectLockRetentionDays' must be a whole number/],
    [{ 'cdk-mlops:stackName': '9lives' }, /context 'cdk-mlops:stackName' must be a valid CloudFormation stack name/],
    [{ 'cdk-mlops:sageMakerEndpoint': [1] }, /context 'cdk-mlops:sageMakerEndpoint' must be an object: \{ name, repository, initialModelDataUrl, instanceType\?, ... \}\./],
    [{ 'cdk-mlops:endpoint': { name: '' } }, /context 'cdk-mlops:endpoint.name' must be a non-empty string\./],
    [{ 'cdk-mlops:sageMakerEndpoint': { name: 'gpu', repository: 'infer' } }, /context 'cdk-mlops:sageMakerEndpoint.initialModelDataUrl' must be the s3:\/\/ URL of a model archive/],
    [{ 'cdk-mlops:sageMakerEndpoint': { repository: 'infer', initialModelDataUrl: 's3://b/m.tar.gz' } }, /context 'cdk-mlops:sageMakerEndpoint.name' must be a non-empty string/],
    [{ 'cdk-mlops:driftMonitor': { features: ['education'], watch: 'both' } }, /context 'cdk-mlops:driftMonitor.watch' must be 'endpoint' \(the ONNX one\) or 'sageMakerEndpoint' \(got "both"\)/],
    [{ 'cdk-mlops:driftMonitor': { features: ['education'], watch: 'sageMakerEndpoint' } }, /MlopsStack: 'driftMonitor.watch' is 'sageMakerEndpoint', but the stack has no 'sageMakerEndpoint'/],
    [{ 'cdk-mlops:trainingPipeline': { ...(cdkJsonContext()['cdk-mlops:trainingPipeline'] as object), retrainOnImagePush: 'yes' } }, /context 'cdk-mlops:trainingPipeline.retrainOnImagePush' must be true or false \(got "yes"\)/],
    [{ 'cdk-mlops:endpoint': { ...(cdkJsonContext()['cdk-mlops:endpoint'] as object), reservedConcurrentExecutions: 2.5 } }, /context 'cdk-mlops:endpoint.reservedConcurrentExecutions' must be a whole number >= 1 \(got 2.5\)/],
    // a typo in a key or a field fails, naming it and the setting meant (it used to deploy the default silently)
    [{ 'cdk-mlops:objectLockMod': 'COMPLIANCE' }, /context 'cdk-mlops:objectLockMod' is not a cdk-mlops setting \(did you mean 'cdk-mlops:objectLockMode'\?\)/],
    [{ 'cdk-mlops:endpoint': { ...(cdkJsonContext()['cdk-mlops:endpoint'] as object), captureRate: 0.5 } }, /context 'cdk-mlops:endpoint' has no field 'captureRate' \(did you mean 'captureSampleRate'\?\); its fields: name, captureSampleRate/],
    [{ 'cdk-mlops:driftMonitor': '{"features": ["education"], "intervalMinute": 5}' }, /context 'cdk-mlops:driftMonitor' has no field 'intervalMinute' \(did you mean 'intervalMinutes'\?\)/],
    [{ 'cdk-mlops:zzz': 1 }, /^context 'cdk-mlops:zzz' is not a cdk-mlops setting; the settings are listed in the README\.$/],
    // malformed JSON from -c names its key
    [{ 'cdk-mlops:endpoint': '{"name": ' }, /^context 'cdk-mlops:endpoint' is not valid JSON \(.+\): it must be an object: \{ name, captureSampleRate\?/],
  ])('rejects bad context %o', (context, message) => {
    expect(() => buildApp({ context: { ...APP_CONTEXT(), ...context } })).toThrow(message);
  });

  it('deploys a SageMaker endpoint from context: the pipeline releases to it, the drift monitor reads its capture, the dashboard shows it; under cdk-nag', () => {
    // GIVEN: the ONNX endpoint stays; a GPU SageMaker endpoint beside it takes the releases and the monitor
    const context = APP_CONTEXT();
    const { app, stack } = buildApp({
      context: {
        ...context,
        'cdk-mlops:sageMakerEndpoint': { name: 'cps-wages-gpu', repository: 'cps-inference', tag: 'v3', initialModelDataUrl: 's3://models-bucket/cps/model.tar.gz', instanceType: 'ml.g5.xlarge', autoscaling: { maxCapacity: 4, targetInvocationsPerInstance: 100 }, dataCapturePercent: 20 },
        'cdk-mlops:trainingPipeline': { ...(context['cdk-mlops:trainingPipeline'] as object), releaseTo: 'sageMakerEndpoint' },
        'cdk-mlops:driftMonitor': { ...(context['cdk-mlops:driftMonitor'] as object), watch: 'sageMakerEndpoint' },
      },
    });
    // WHEN / THEN: every nag rule passes
    expect(() => app.synth()).not.toThrow();
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { ProductionVariants: [Match.objectLike({ InstanceType: 'ml.g5.xlarge' })], DataCaptureConfig: Match.objectLike({ InitialSamplingPercentage: 20 }) });
    t.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'cps-wages-gpu' });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CAPTURE_FORMAT: 'sagemaker', CAPTURE_PREFIX: 'captures/cps-wages-gpu/cps-wages-gpu/AllTraffic/', ENDPOINT_NAME: 'cps-wages-gpu' }) } });
    // the pipeline's release invokes the SageMaker endpoint's deployer, and its steps judge against that endpoint's champion
    const deployer = stack.resolve((stack.sageMakerEndpoint!.deployer!.node.defaultChild as unknown as { logicalId: string }).logicalId) as string;
    expect(JSON.stringify(stack.resolve((stack.trainingPipeline!.stateMachine.node.defaultChild as unknown as { definitionString: unknown }).definitionString))).toContain(deployer);
    expect(JSON.stringify(t.toJSON())).toContain('\\"endpoint\\":\\"cps-wages-gpu\\"');
    t.hasOutput('SageMakerEndpointReleaseStateMachineArn', {});
  });

  it('takes its settings from context (strings from -c work too)', () => {
    const { stack } = buildApp({ context: { ...APP_CONTEXT(), 'cdk-mlops:objectLockMode': 'compliance', 'cdk-mlops:objectLockRetentionDays': '365', 'cdk-mlops:stackName': 'Other', 'cdk-mlops:sageMakerEndpoint': '{"name": "cpu", "repository": "infer", "initialModelDataUrl": "s3://b/m.tar.gz"}' } });
    expect(stack.stackName).toBe('Other');
    expect(stack.dataLake.objectLockRetention).toMatchObject({ mode: 'COMPLIANCE' });
    expect(stack.sageMakerEndpoint).toMatchObject({ endpointName: 'cpu', instanceType: 'ml.c6i.xlarge' });
  });

  it('synthesizes offline with the pinned CDK CLI, bundling the Lambda with the local esbuild', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
    try {
      const res = spawnSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true' },
        timeout: 220_000,
      });
      expect(res.status, res.stderr).toBe(0);
      const template = JSON.parse(readFileSync(path.join(out, 'CdkMlops.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Metadata?: Record<string, string> }> };
      const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
      expect(existsSync(path.join(out, fn.Metadata!['aws:asset:path']!, 'index.js'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    // ~30 s alone and 67 s under the full suite on 2 cores (three nag packs, every Lambda bundled): 4× that
  }, 240_000);
});
