import { cpsRows } from '../../bin/local/sample-data';
import { trainLogisticRegression, type TrainedLinearModel } from '../../bin/local/trainers/logistic-regression';
import { deterministicId, sha256Hex, type LedgerRecord } from '../../lambdas/core/lineage';
import type { ModelSignature } from '../../lambdas/core/model-signature';
import { ArtifactStore } from '../../lambdas/shared/artifact-store';
import type { LocalEnvironment } from './local';

/*
 * A model trained by the example trainer on the CPS rows, written to the
 * artifacts bucket and recorded in the ledger as the pipeline records one
 * (DatasetVersion -> TrainingRun -> ModelVersion), for endpoint tests.
 */

export interface RecordedTestModel {
  readonly trained: TrainedLinearModel;
  readonly model: LedgerRecord<'ModelVersion'>;
  readonly key: string;
}

export async function recordTestModel(env: LocalEnvironment, options: { name: string; features: ModelSignature['features']; dataset?: string; iterations?: number }): Promise<RecordedTestModel> {
  const rows = cpsRows() as unknown as Record<string, unknown>[];
  const signature: ModelSignature = { input: 'features', output: 'score', features: options.features };
  const trained = trainLogisticRegression(rows, { signature, target: (r) => ((r.wage as number) > 10 ? 1 : 0), iterations: options.iterations ?? 300 });
  const sha256 = sha256Hex(trained.onnx);
  const key = `models/test/${options.name}/${sha256.slice(0, 16)}/model.onnx`;
  // pinned as the pipeline pins it: the object version is recorded where the bucket keeps versions (moto; not s3rver)
  const { versionId } = await new ArtifactStore(env.s3, env.artifactsBucket).putPinned(key, trained.onnx, 'application/octet-stream');
  const ledger = env.ledger();
  const dataset = options.dataset ?? 'cps-wages';
  const dsv = await ledger.append({
    kind: 'DatasetVersion',
    id: deterministicId('dsv', 'test', options.name),
    subject: `dataset/${dataset}`,
    data: { dataset, bucket: env.dataBucket, key: `data/${dataset}/${options.name}.csv`, versionId: null, etag: null, sha256: sha256Hex(options.name), size: 1, contentType: 'text/csv', format: 'csv', status: 'accepted', source: { eventId: null, eventTime: null } },
  });
  const run = await ledger.append({
    kind: 'TrainingRun',
    id: deterministicId('tr', 'test', options.name),
    subject: 'pipeline/test',
    parents: [dsv.record.id],
    data: { pipeline: 'test', executionId: options.name, datasetVersionIds: [dsv.record.id], image: { uri: 'local' }, hyperparameters: {}, instanceType: 'ml.m5.xlarge', instanceCount: 1, status: 'succeeded' },
  });
  const model = await ledger.append({
    kind: 'ModelVersion',
    id: deterministicId('mv', 'test', options.name, sha256),
    subject: 'pipeline/test',
    parents: [run.record.id],
    data: { pipeline: 'test', trainingRunId: run.record.id, artifact: { uri: `s3://${env.artifactsBucket}/${key}`, sha256, ...(versionId ? { versionId } : {}) }, format: 'onnx', signature, metrics: { 'train:accuracy': trained.accuracy, 'score:mean': trained.meanScore }, approval: { status: 'PendingManualApproval' } },
  });
  return { trained, model: model.record, key };
}

/** The trained model's score for a row, computed here in plain arithmetic (no onnxruntime). */
export function referenceScore(trained: TrainedLinearModel, values: readonly number[]): number {
  const logit = trained.weights.reduce((s, w, j) => s + w * values[j]!, trained.bias);
  return 1 / (1 + Math.exp(-logit));
}
