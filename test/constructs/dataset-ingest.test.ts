import { Duration, Size } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { DataLake, DatasetIngest, LineageLedger } from '../../lib';
import { testStack } from '../helpers/stacks';

function ingest(props: Partial<ConstructorParameters<typeof DatasetIngest>[2]> = {}) {
  const stack = testStack();
  const dataLake = new DataLake(stack, 'Lake', { dataPrefix: 'raw/datasets/' });
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  const construct = new DatasetIngest(stack, 'Ingest', { dataLake, ledger, ...props });
  return { stack, dataLake, construct, get template() { return Template.fromStack(stack); } };
}

describe('DatasetIngest', () => {
  it('routes Object Created events under the data prefix of the data bucket to the function, with retries and a DLQ', () => {
    const { template, stack, dataLake } = ingest();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [stack.resolve(dataLake.dataBucket.bucketName)] }, object: { key: [{ prefix: 'raw/datasets/' }] } },
      },
      Targets: [Match.objectLike({ DeadLetterConfig: { Arn: Match.anyValue() }, RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 } })],
    });
  });

  it('runs on arm64, the newest Node.js runtime, with X-Ray, JSON logs and the ledger environment', () => {
    const { template } = ingest();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 900,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      DeadLetterConfig: { TargetArn: Match.anyValue() },
      Environment: { Variables: Match.objectLike({ DATA_PREFIX: 'raw/datasets/', LEDGER_TABLE: Match.anyValue(), LEDGER_WORM_BUCKET: Match.anyValue(), LEDGER_WORM_PREFIX: 'ledger/' }) },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('does not use AWSLambdaBasicExecutionRole (its role writes only to its own log group)', () => {
    const { template } = ingest();
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('encrypts its dead-letter queue, requires TLS, and alarms on any message in it', () => {
    const { template } = ingest();
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it('exposes metrics in its namespace, keyed by its service name', () => {
    const { construct, stack } = ingest({ metricsNamespace: 'team-a' });
    const m = construct.metricRejected();
    expect(m.namespace).toBe('team-a');
    expect(m.metricName).toBe('DatasetVersionsRejected');
    expect(m.dimensions).toEqual({ service: construct.serviceName });
    expect(stack.resolve(m.period.toSeconds())).toBe(300);
  });

  it('lets two ingests live in one stack without collisions', () => {
    const stack = testStack();
    const a = new DataLake(stack, 'LakeA');
    const b = new DataLake(stack, 'LakeB');
    const la = new LineageLedger(stack, 'LedgerA', { wormBucket: a.artifactsBucket });
    const ia = new DatasetIngest(stack, 'IngestA', { dataLake: a, ledger: la });
    const ib = new DatasetIngest(stack, 'IngestB', { dataLake: b, ledger: la });
    expect(ia.serviceName).not.toBe(ib.serviceName);
    Template.fromStack(stack).resourceCountIs('AWS::Events::Rule', 2);
  });

  it.each([
    [{ memorySize: Size.mebibytes(128) }, /'memorySize' must be between 256 MiB and 10240 MiB \(got 128 MiB\)/],
    [{ timeout: Duration.minutes(20) }, /'timeout' must be between 30 seconds and 15 minutes/],
    [{ timeout: Duration.seconds(5) }, /'timeout' must be between 30 seconds and 15 minutes/],
  ])('rejects bad props: %o', (props, message) => {
    expect(() => ingest(props)).toThrow(message);
  });

  it('notifies the topic you bring from its dead-letter alarm, and creates none', () => {
    // GIVEN
    const stack = testStack();
    const dataLake = new DataLake(stack, 'Lake');
    const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.ledgerBucket });
    const topic = new sns.Topic(stack, 'Pager');
    // WHEN
    const construct = new DatasetIngest(stack, 'Ingest', { dataLake, ledger, alarmTopic: topic });
    // THEN
    const t = Template.fromStack(stack);
    expect(construct.alarmTopic).toBe(topic);
    t.resourceCountIs('AWS::SNS::Topic', 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) }] });
  });
});
