import type { S3Client } from '@aws-sdk/client-s3';
import { deterministicId, sha256Hex } from '../../lambdas/core/lineage';
import { ArtifactStore } from '../../lambdas/shared/artifact-store';
import type { LedgerStore } from '../../lambdas/shared/ledger-store';
import type { TrainedLinearModel } from './trainers/logistic-regression';

/*
 * Records a locally trained model the way the training pipeline will: the ONNX
 * bytes written once under models/ in the artifacts bucket, then a TrainingRun
 * (derived from the dataset versions) and a ModelVersion (derived from the run)
 * in the ledger, the model's SHA-256 and signature in its record.
 */

export interface RegisteredModel {
  readonly trainingRunId: string;
  readonly modelVersionId: string;
  readonly uri: string;
}

export async function registerLocalModel(
  ledger: LedgerStore,
  s3: S3Client,
  artifactsBucket: string,
  options: { pipeline: string; model: TrainedLinearModel; datasetVersionIds: readonly string[]; hyperparameters?: Record<string, string> },
): Promise<RegisteredModel> {
  const sha256 = sha256Hex(options.model.onnx);
  const { uri, versionId } = await new ArtifactStore(s3, artifactsBucket).putPinned(`models/${options.pipeline}/${sha256.slice(0, 16)}/model.onnx`, options.model.onnx, 'application/octet-stream');
  const run = await ledger.append({
    kind: 'TrainingRun',
    id: deterministicId('tr', options.pipeline, sha256),
    subject: `pipeline/${options.pipeline}`,
    parents: [...options.datasetVersionIds],
    data: {
      pipeline: options.pipeline,
      executionId: `local-${sha256.slice(0, 12)}`,
      datasetVersionIds: [...options.datasetVersionIds],
      image: { uri: 'local:cdk-mlops-demo-logistic-regression' },
      hyperparameters: options.hyperparameters ?? {},
      instanceType: 'local',
      instanceCount: 1,
      status: 'succeeded',
      metrics: { 'train:accuracy': options.model.accuracy },
    },
  });
  const model = await ledger.append({
    kind: 'ModelVersion',
    id: deterministicId('mv', options.pipeline, sha256),
    subject: `pipeline/${options.pipeline}`,
    parents: [run.record.id],
    data: {
      pipeline: options.pipeline,
      trainingRunId: run.record.id,
      artifact: { uri, sha256, ...(versionId ? { versionId } : {}) },
      format: 'onnx',
      signature: options.model.signature,
      metrics: { 'train:accuracy': options.model.accuracy },
      approval: { status: 'PendingManualApproval' },
    },
  });
  return { trainingRunId: run.record.id, modelVersionId: model.record.id, uri };
}
