import { describe, expect, it } from 'vitest';
import { LEDGER_SCHEMA_VERSION, type LedgerRecord, type TrainingRunData } from '../../lambdas/core/lineage';
import { defaultReproductionOutput, NotReproducibleError, reproduction } from '../../lambdas/core/reproduce';

const DIGEST = `sha256:${'4f'.repeat(32)}`;
const CHANNEL = 's3://artifacts/training/churn/snapshots/dsv-1/train/';

function run(data: Partial<TrainingRunData> = {}): LedgerRecord<'TrainingRun'> {
  return {
    schemaVersion: LEDGER_SCHEMA_VERSION, kind: 'TrainingRun', id: 'tr-1', subject: 'pipeline/churn', chain: 'pipeline/churn', parents: ['dsv-1'], createdAt: '2026-06-01T00:00:00.000Z',
    data: {
      pipeline: 'churn', executionId: 'dsv-1', datasetVersionIds: ['dsv-1'],
      image: { uri: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer@${DIGEST}`, digest: DIGEST },
      hyperparameters: { epochs: '20', seed: '7' },
      inputs: { train: { channel: CHANNEL, object: `${CHANNEL}train.csv`, sha256: 'ab'.repeat(32), rows: 427, format: 'csv' }, holdoutPercent: 20 },
      instanceType: 'ml.g5.xlarge', instanceCount: 1, trainingJobName: 'churn-0123', status: 'succeeded',
      ...data,
    },
  };
}

describe('reproduction of a training run from its record', () => {
  it('repeats the image by digest, the hyperparameters, the instances and the channel; nothing is left open', () => {
    const r = reproduction(run(), { jobName: 'churn-repro-1' });
    expect(r.gaps).toEqual([]);
    expect(r.input).toEqual({ object: `${CHANNEL}train.csv`, sha256: 'ab'.repeat(32), rows: 427 });
    expect(r.request).toEqual({
      TrainingJobName: 'churn-repro-1',
      AlgorithmSpecification: { TrainingImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer@${DIGEST}`, TrainingInputMode: 'File' },
      HyperParameters: { epochs: '20', seed: '7' },
      InputDataConfig: [{ ChannelName: 'train', DataSource: { S3DataSource: { S3Uri: CHANNEL, S3DataType: 'S3Prefix', S3DataDistributionType: 'FullyReplicated' } } }],
      OutputDataConfig: { S3OutputPath: 's3://artifacts/training/churn/jobs' },
      ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30 },
      StoppingCondition: { MaxRuntimeInSeconds: 86400 },
    });
    expect(reproduction(run(), { jobName: 'j', outputUri: 's3://mine/out' }).request.OutputDataConfig).toEqual({ S3OutputPath: 's3://mine/out' });
  });

  it('says what the record leaves open: an image by tag, a failed run', () => {
    const r = reproduction(run({ image: { uri: 'trainer:latest' }, status: 'failed', failureReason: 'out of memory' }), { jobName: 'j' });
    expect(r.gaps).toEqual([
      'the image is recorded by tag only (trainer:latest): the tag may name another image now; train on a PinnedEcrImage to record the digest',
      'the run failed: out of memory',
    ]);
  });

  it('refuses a run that recorded no input, or one with nowhere to write, naming the run', () => {
    expect(() => reproduction(run({ inputs: undefined }), { jobName: 'j' })).toThrow(NotReproducibleError);
    expect(() => reproduction(run({ inputs: undefined }), { jobName: 'j' })).toThrow(/tr-1 records no training input .* retrain dataset version dsv-1 with the pipeline instead/);
    const elsewhere = run({ inputs: { train: { channel: 's3://b/somewhere/', object: 's3://b/somewhere/x.csv', sha256: 'ab'.repeat(32), rows: 1, format: 'csv' }, holdoutPercent: 20 } });
    expect(() => reproduction(elsewhere, { jobName: 'j' })).toThrow(/tr-1: no output location for the repeat/);
    expect(reproduction(elsewhere, { jobName: 'j', outputUri: 's3://b/out' }).gaps).toEqual([]);
  });

  it('writes beside the pipeline\'s own jobs by default', () => {
    expect(defaultReproductionOutput('s3://a/training/churn/snapshots/dsv-9/train/')).toBe('s3://a/training/churn/jobs');
    expect(defaultReproductionOutput('s3://a/other/')).toBeUndefined();
  });
});
