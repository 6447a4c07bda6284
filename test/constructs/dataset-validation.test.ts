import { Size } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DataLake, DatasetValidation, LineageLedger, ProfileShards, ValidationGate } from '../../lib';
import { asArray, iamStatements, testStack } from '../helpers/stacks';

function workflow(props: Partial<ConstructorParameters<typeof DatasetValidation>[2]> = {}) {
  const stack = testStack();
  const dataLake = new DataLake(stack, 'Lake');
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  const validationGate = new ValidationGate(stack, 'Gate', { dataLake, ledger });
  const construct = new DatasetValidation(stack, 'Validation', { dataLake, ledger, validationGate, ...props });
  return { stack, dataLake, ledger, construct, template: () => Template.fromStack(stack) };
}

function definition(template: Template): any {
  const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
  const text = sm.Properties.DefinitionString['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'ARN')).join('');
  return JSON.parse(text);
}

describe('DatasetValidation', () => {
  it('profiles big versions in a Distributed Map of EXPRESS child executions, then runs the gate', () => {
    const def = definition(workflow({ maxConcurrency: 20 }).template());
    expect(def.StartAt).toBe('Plan shards');
    const map = def.States['Profile shards'];
    expect(map).toMatchObject({ Type: 'Map', ItemsPath: '$.plan.shards', MaxConcurrency: 20, Label: 'ProfileShards', ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' } } });
    expect(map.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.sharding', Next: 'Validate' }]);
    expect(def.States['Shard the profile?'].Default).toBe('Validate');
    expect(def.States.Validate.End).toBe(true);
    // no JSONata, no Assign: the definition runs locally as it deploys
    expect(JSON.stringify(def)).not.toMatch(/JSONata|"Assign"/);
    for (const name of ['Plan shards', 'Merge shard profiles', 'Validate']) {
      expect(def.States[name].Retry[0], name).toEqual({ ErrorEquals: ['InvalidEventError'], MaxAttempts: 0 });
      expect(def.States[name].TimeoutSeconds, name).toBe(960);
    }
  });

  it('logs every execution event to its own retained log group, with X-Ray tracing', () => {
    const template = workflow().template();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }] },
    });
    template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain', Properties: { RetentionInDays: 365 } });
  });

  it('passes the sharding settings to the profiler, which writes only profiles', () => {
    const { template } = workflow({ shardThreshold: Size.gibibytes(1), shardSize: Size.mebibytes(64), maxShards: 500 });
    template().hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ SHARD_THRESHOLD_BYTES: String(2 ** 30), SHARD_BYTES: String(64 * 2 ** 20), MAX_SHARDS: '500', PROFILES_PREFIX: 'profiles/' }) } });
    const profilerPolicies = iamStatements(template()).filter((s) => s.policy.startsWith('ValidationProfileShards'));
    const puts = profilerPolicies.filter((s) => asArray(s.statement.Action).includes('s3:PutObject')).map((s) => JSON.stringify(s.statement.Resource));
    expect(puts).toHaveLength(1);
    expect(puts[0]).toContain('/profiles/*');
    expect(profilerPolicies.flatMap((s) => asArray(s.statement.Action))).not.toContain('dynamodb:PutItem');
  });

  it.each([
    [{ shardSize: Size.bytes(100) }, "ProfileShards: 'shardSize' must be at least 1 KiB (got 100 bytes)."],
    [{ maxShards: 1 }, "ProfileShards: 'maxShards' must be a whole number from 2 to 1000 (got 1)."],
    [{ maxShards: 5000 }, "ProfileShards: 'maxShards' must be a whole number from 2 to 1000 (got 5000)."],
    [{ maxConcurrency: 0 }, "ValidateDataset: 'maxConcurrency' must be a whole number from 1 to 10000 (got 0)."],
  ])('rejects bad props: %o', (props, message) => {
    expect(() => workflow(props)).toThrow(message);
  });

  it('ProfileShards stands alone too', () => {
    const stack = testStack();
    const dataLake = new DataLake(stack, 'Lake');
    const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
    const shards = new ProfileShards(stack, 'Shards', { dataLake, ledger });
    expect(shards.shardSize.toMebibytes()).toBe(128);
    expect(shards.thresholdSize.toMebibytes()).toBe(512);
    expect(stack.resolve(shards.metricShardsRefused().metricName)).toBe('ShardsRefused');
  });
});
