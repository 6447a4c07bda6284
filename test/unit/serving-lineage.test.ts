import { describe, expect, it } from 'vitest';
import type { RecordDraft } from '../../lambdas/core/lineage';
import { servingLineage } from '../../lambdas/shared/serving-lineage';
import { MemoryLedger } from '../helpers/memory-ledger';

/*
 * "What serves and why" after a drift retraining: the model's own lineage and
 * gates (not the previous model's, though the drift Incident that caused the
 * retraining links to it), and the whole story behind the release.
 */

const gate = (id: string, gateName: string, parents: string[]): RecordDraft<'GateReport'> => ({ kind: 'GateReport', id, subject: 'dataset/cps', parents, data: { gate: gateName, passed: true, metrics: {}, thresholds: {}, reasons: [] } });

async function story(): Promise<MemoryLedger> {
  const l = new MemoryLedger();
  const dsv = (id: string) => l.append({ kind: 'DatasetVersion', id, subject: 'dataset/cps', data: { dataset: 'cps', bucket: 'b', key: `data/cps/${id}.csv`, versionId: '1', etag: 'e', sha256: 'a'.repeat(64), size: 1, contentType: null, format: 'csv', status: 'accepted', source: { eventId: null, eventTime: null } } });
  const model = async (mv: string, tr: string, data: string, trigger?: string) => {
    await l.append({ kind: 'TrainingRun', id: tr, subject: 'pipeline/cps', parents: [data, ...(trigger ? [trigger] : [])], data: { pipeline: 'cps', executionId: 'x', datasetVersionIds: [data], image: { uri: 'i' }, hyperparameters: {}, instanceType: 'ml.m5.large', instanceCount: 1, status: 'succeeded', ...(trigger ? { trigger: { type: 'drift', incidentId: trigger } } : {}) } });
    await l.append({ kind: 'ModelVersion', id: mv, subject: 'pipeline/cps', parents: [tr], data: { pipeline: 'cps', trainingRunId: tr, artifact: { uri: 's3://a/m', sha256: 'f'.repeat(64) }, format: 'onnx', metrics: {}, approval: { status: 'Approved' } } });
  };
  await dsv('dsv-1');
  await l.append(gate('gr-val-1', 'validation', ['dsv-1']));
  await model('mv-1', 'tr-1', 'dsv-1');
  await l.append(gate('gr-bias-1', 'bias', ['dsv-1', 'mv-1']));
  await l.append({ kind: 'Deployment', id: 'dp-1', subject: 'endpoint/wages', parents: ['mv-1'], data: { endpoint: 'wages', modelVersionId: 'mv-1', strategy: 's', reason: 'initial', status: 'succeeded' } });
  await l.append({ kind: 'Incident', id: 'in-drift', subject: 'endpoint/wages', parents: ['dp-1', 'mv-1'], data: { type: 'drift', reason: 'education drifted', endpoint: 'wages' } });
  await dsv('dsv-2');
  await l.append(gate('gr-val-2', 'validation', ['dsv-2']));
  await model('mv-2', 'tr-2', 'dsv-2', 'in-drift');
  await l.append(gate('gr-eval-2', 'evaluation', ['mv-2', 'mv-1']));
  await l.append(gate('gr-bias-2', 'bias', ['dsv-2', 'mv-2']));
  await l.append({ kind: 'Deployment', id: 'dp-2', subject: 'endpoint/wages', parents: ['mv-2'], data: { endpoint: 'wages', modelVersionId: 'mv-2', strategy: 's', reason: 'retrain', status: 'succeeded' } });
  return l;
}

describe('servingLineage', () => {
  it("after a drift retraining: the model's own data and gates; the drift and the previous model in the why", async () => {
    const { lineage } = await servingLineage(await story(), 'wages');
    expect(lineage!.serving.id).toBe('dp-2');
    expect(lineage!.ancestors.map((r) => r.id).sort()).toEqual(['dsv-2', 'tr-2']);
    expect(lineage!.gates.map((g) => g.id).sort()).toEqual(['gr-bias-2', 'gr-eval-2', 'gr-val-2']);
    expect(lineage!.why.map((r) => r.id).sort()).toEqual(['dp-1', 'dsv-1', 'dsv-2', 'in-drift', 'mv-1', 'mv-2', 'tr-1', 'tr-2']);
    expect(lineage!.releases.map((r) => r.id)).toEqual(['dp-1', 'in-drift', 'dp-2']);
  });

  it('nothing serves: the chain alone', async () => {
    const l = new MemoryLedger();
    expect(await servingLineage(l, 'wages')).toEqual({ history: [] });
  });
});
