import { describe, expect, it } from 'vitest';
import { decideChampion, executionNameFor, trainingImageRecord, trainingJobName } from '../../lambdas/core/pipeline';
import { startForUpload, type Starter } from '../../lambdas/pipeline-starter/start';

const upload = (key: string, versionId = 'v1') => ({ source: 'aws.s3', 'detail-type': 'Object Created', id: 'e1', time: '2026-11-23T00:00:00Z', detail: { bucket: { name: 'data' }, object: { key, size: 10, etag: 'abc', 'version-id': versionId } } });

describe('pipeline decisions', () => {
  it('names jobs per execution within SageMaker limits, and executions per dataset version', () => {
    const a = trainingJobName('cps-wages', 'dsv-1');
    expect(a).toMatch(/^cps-wages-[0-9a-f]{16}$/);
    expect(trainingJobName('cps-wages', 'dsv-1')).toBe(a);
    expect(trainingJobName('cps-wages', 'dsv-2')).not.toBe(a);
    expect(trainingJobName('x'.repeat(80), 'e').length).toBeLessThanOrEqual(63);
    expect(executionNameFor('dsv-abc')).toBe('dsv-abc');
    expect(executionNameFor('dsv-abc', 'retry 2')).toBe('dsv-abc-retry-2');
  });

  it('records the training image with its digest when the job ran one, never a digest guessed from a tag', () => {
    const digest = `sha256:${'0a'.repeat(32)}`;
    expect(trainingImageRecord(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer@${digest}`)).toEqual({ uri: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer@${digest}`, digest });
    expect(trainingImageRecord('123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer:latest')).toEqual({ uri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/trainer:latest' });
    expect(trainingImageRecord('registry.example.com:5000/trainer')).toEqual({ uri: 'registry.example.com:5000/trainer' });
    // not a full SHA-256: no digest
    expect(trainingImageRecord('trainer@sha256:abc')).toEqual({ uri: 'trainer@sha256:abc' });
  });

  it.each([
    [0.8, null, 0, true, /no model serves yet/],
    [0.81, 0.8, 0.005, true, /beats the champion's 0\.8000 by 0\.0100/],
    [0.802, 0.8, 0.005, false, /does not beat the champion's 0\.8000 by 0\.005 \(gain 0\.0020\)/],
    [0.7, 0.8, 0, false, /does not beat/],
    [Number.NaN, 0.8, 0, false, /the candidate's accuracy is NaN/],
  ])('champion/challenger: candidate %f vs champion %s (min %f)', (challenger, champion, min, promote, reason) => {
    const d = decideChampion('accuracy', challenger, champion, min);
    expect(d.promote).toBe(promote);
    expect(d.reason).toMatch(reason);
  });
});

describe('startForUpload', () => {
  const started: string[] = [];
  const starter: Starter = {
    start: async ({ name }) => {
      if (started.includes(name)) return 'exists';
      started.push(name);
      return 'started';
    },
  };
  const settings = { stateMachineArn: 'arn:sm', dataPrefix: 'data/', datasets: ['cps'] };

  it('starts one execution per dataset version; a duplicate event starts none', async () => {
    const first = await startForUpload(upload('data/cps/a.csv'), starter, settings);
    expect(first).toMatchObject({ started: true, duplicate: false });
    expect(first.executionName).toBe(first.datasetVersionId);
    expect(await startForUpload(upload('data/cps/a.csv'), starter, settings)).toMatchObject({ started: false, duplicate: true });
    expect(await startForUpload(upload('data/cps/a.csv', 'v2'), starter, settings)).toMatchObject({ started: true }); // a new version retrains
  });

  it('ignores other datasets and keys outside a dataset folder, saying why', async () => {
    expect(await startForUpload(upload('data/other/a.csv'), starter, settings)).toMatchObject({ started: false, reason: "dataset 'other' does not retrain this pipeline" });
    expect((await startForUpload(upload('data/loose.csv'), starter, settings)).started).toBe(false);
  });
});
