import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pipeline as pipe } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { CopyObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import type { ValueSpec } from '../core/bias-gate';
import { CdkMlopsError, InvalidEventError, ModelError } from '../core/errors';
import { deterministicId, sha256Hex, type LedgerRecord, type RecordDraft } from '../core/lineage';
import { checkModelSignature, type ModelSignature } from '../core/model-signature';
import { decideChampion, trainingJobName, type ChampionDecision } from '../core/pipeline';
import type { ObjectReader } from '../ingest/ingest';
import type { ArtifactStore } from '../shared/artifact-store';
import type { ModelArtifactReader } from '../shared/model-artifacts';
import { parseS3Uri } from '../shared/model-artifacts';
import { scoreDatasetVersion, type ModelScorer } from '../shared/model-scoring';

/*
 * The training pipeline's own steps, one Lambda: prepare (pin the dataset
 * version as a training snapshot, name the job), record the trained model
 * (TrainingRun + ModelVersion, the ONNX model out of model.tar.gz, hashed),
 * evaluate (champion/challenger on the same holdout), deploy (record the
 * Deployment; the endpoint constructs take over the serving), and record a
 * failure (an Incident). Every record derives from the one before it.
 */

export interface PipelineConfig {
  readonly pipeline: string;
  /** The label and its positive outcome (evaluation's accuracy). */
  readonly label: ValueSpec;
  /** @default 0 */
  readonly minImprovement?: number;
  /** @default 0.5 */
  readonly probabilityThreshold?: number;
  readonly artifactsBucket: string;
  /** Where training snapshots and job outputs go in the artifacts bucket. @default 'training/' */
  readonly trainingPrefix?: string;
  /** Where registered models go. @default 'models/' */
  readonly modelsPrefix?: string;
  /** The training job's settings, recorded in the TrainingRun. */
  readonly instanceType: string;
  readonly instanceCount: number;
}

export interface StepsDeps {
  readonly s3: S3Client;
  readonly ledger: {
    get(id: string): Promise<LedgerRecord | undefined>;
    append(draft: RecordDraft): Promise<{ record: LedgerRecord }>;
    history(subject: string): Promise<LedgerRecord[]>;
  };
  readonly objects: ObjectReader;
  /** The artifacts bucket: models are written there once. */
  readonly artifacts: Pick<ArtifactStore, 'putOnce'>;
  readonly models: ModelArtifactReader;
  loadModel(bytes: Uint8Array, signature: ModelSignature): Promise<ModelScorer>;
}

const subjectOf = (config: PipelineConfig): string => `pipeline/${config.pipeline}`;

/** The dataset version is not in the ledger yet (ingest runs beside the pipeline's start): retried by the state machine. */
export class DatasetVersionPendingError extends CdkMlopsError {}

/** The first state: waits (by retries) until ingest has recorded the version the execution is named after. */
export async function resolve(event: Record<string, unknown>, deps: StepsDeps): Promise<{ status: string; dataset: string }> {
  const id = text(event, 'datasetVersionId');
  const r = await deps.ledger.get(id);
  if (!r) throw new DatasetVersionPendingError(`dataset version ${id} is not in the ledger yet`);
  if (r.kind !== 'DatasetVersion') throw new InvalidEventError(`datasetVersionId: '${id}' is a ${r.kind}, not a DatasetVersion`);
  const d = (r as LedgerRecord<'DatasetVersion'>).data;
  return { status: d.status, dataset: d.dataset };
}

function text(event: Record<string, unknown>, field: string): string {
  const v = event[field];
  if (typeof v !== 'string' || v === '') throw new InvalidEventError(`${field}: expected a non-empty string`);
  return v;
}

async function datasetVersion(deps: StepsDeps, id: string): Promise<LedgerRecord<'DatasetVersion'>> {
  const r = await deps.ledger.get(id);
  if (!r || r.kind !== 'DatasetVersion') throw new InvalidEventError(`datasetVersionId: no DatasetVersion '${id}' in the ledger`);
  return r as LedgerRecord<'DatasetVersion'>;
}

async function modelVersion(deps: StepsDeps, id: string): Promise<LedgerRecord<'ModelVersion'>> {
  const r = await deps.ledger.get(id);
  if (!r || r.kind !== 'ModelVersion') throw new InvalidEventError(`modelVersionId: no ModelVersion '${id}' in the ledger`);
  return r as LedgerRecord<'ModelVersion'>;
}

export interface Prepared {
  readonly trainingJobName: string;
  /** S3 prefix holding exactly the pinned object version: the training channel. */
  readonly trainUri: string;
  readonly outputUri: string;
}

/** Pins the dataset version: a copy of that exact object version under the training prefix (the channel SageMaker reads). */
export async function prepare(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<Prepared> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const executionName = text(event, 'executionName');
  if (dsv.data.status !== 'accepted') throw new InvalidEventError(`datasetVersionId: ${dsv.id} was rejected at ingest (${dsv.data.reason ?? 'no reason'})`);
  const prefix = config.trainingPrefix ?? 'training/';
  const snapshot = `${prefix}${config.pipeline}/snapshots/${dsv.id}/train/${path.posix.basename(dsv.data.key)}`;
  await deps.s3.send(
    new CopyObjectCommand({
      Bucket: config.artifactsBucket,
      Key: snapshot,
      CopySource: `${dsv.data.bucket}/${encodeURIComponent(dsv.data.key).replace(/%2F/g, '/')}${dsv.data.versionId ? `?versionId=${encodeURIComponent(dsv.data.versionId)}` : ''}`,
      ...(dsv.data.etag && !dsv.data.versionId ? { CopySourceIfMatch: `"${dsv.data.etag}"` } : {}),
    }),
  );
  return {
    trainingJobName: trainingJobName(config.pipeline, executionName),
    trainUri: `s3://${config.artifactsBucket}/${path.posix.dirname(snapshot)}/`,
    outputUri: `s3://${config.artifactsBucket}/${prefix}${config.pipeline}/jobs`,
  };
}

interface TrainingJobResult {
  readonly TrainingJobName: string;
  readonly AlgorithmSpecification?: { readonly TrainingImage?: string };
  readonly ModelArtifacts?: { readonly S3ModelArtifacts: string };
  readonly HyperParameters?: Readonly<Record<string, string>>;
  readonly FinalMetricDataList?: readonly { readonly MetricName: string; readonly Value: number }[];
}

export interface RecordedModel {
  readonly trainingRunId: string;
  readonly modelVersionId: string;
  readonly modelUri: string;
  readonly sha256: string;
}

/** Records the TrainingRun and the ModelVersion: model.onnx out of the job's model.tar.gz, hashed, written once under models/. */
export async function recordModel(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<RecordedModel> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const executionName = text(event, 'executionName');
  const job = event.trainingJob as TrainingJobResult | undefined;
  const artifacts = job?.ModelArtifacts?.S3ModelArtifacts;
  if (!job || typeof artifacts !== 'string') throw new InvalidEventError('trainingJob.ModelArtifacts.S3ModelArtifacts: expected the training job result');
  const { onnx, signature, metrics } = await extractModel(deps.s3, artifacts);
  const sha256 = sha256Hex(onnx);
  const key = `${config.modelsPrefix ?? 'models/'}${config.pipeline}/${sha256.slice(0, 16)}/model.onnx`;
  const modelUri = await deps.artifacts.putOnce(key, onnx, 'application/octet-stream');
  const jobMetrics = Object.fromEntries((job.FinalMetricDataList ?? []).map((m) => [m.MetricName, m.Value]));
  const run = await deps.ledger.append({
    kind: 'TrainingRun',
    id: deterministicId('tr', config.pipeline, job.TrainingJobName),
    subject: subjectOf(config),
    parents: [dsv.id],
    data: {
      pipeline: config.pipeline,
      executionId: executionName,
      datasetVersionIds: [dsv.id],
      image: { uri: job.AlgorithmSpecification?.TrainingImage ?? 'unknown' },
      hyperparameters: { ...(job.HyperParameters ?? {}) },
      instanceType: config.instanceType,
      instanceCount: config.instanceCount,
      trainingJobName: job.TrainingJobName,
      status: 'succeeded',
      metrics: { ...metrics, ...jobMetrics },
    },
  });
  const model = await deps.ledger.append({
    kind: 'ModelVersion',
    id: deterministicId('mv', config.pipeline, job.TrainingJobName, sha256),
    subject: subjectOf(config),
    parents: [run.record.id],
    data: {
      pipeline: config.pipeline,
      trainingRunId: run.record.id,
      artifact: { uri: modelUri, sha256 },
      format: 'onnx',
      signature,
      metrics: { ...metrics, ...jobMetrics },
      // approval follows the gates and the evaluation: a Deployment record is the pipeline's approval
      approval: { status: 'PendingManualApproval' },
    },
  });
  return { trainingRunId: run.record.id, modelVersionId: model.record.id, modelUri, sha256 };
}

async function extractModel(s3: S3Client, uri: string): Promise<{ onnx: Uint8Array; signature: ModelSignature; metrics: Record<string, number> }> {
  const { bucket, key } = parseS3Uri(uri);
  const dir = mkdtempSync(path.join(tmpdir(), 'model-'));
  try {
    const body = (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable;
    const wanted = new Set(['model.onnx', 'signature.json', 'metrics.json']);
    await pipe(body, tar.x({ cwd: dir, strict: true, filter: (p) => wanted.has(p.replace(/^\.\//, '')) }));
    const file = (name: string): string => path.join(dir, name);
    if (!existsSync(file('model.onnx'))) throw new ModelError(`${uri} has no model.onnx (the trainer must export ONNX)`);
    if (!existsSync(file('signature.json'))) throw new ModelError(`${uri} has no signature.json (inputs, features, output)`);
    const signature = checkModelSignature(JSON.parse(readFileSync(file('signature.json'), 'utf8')));
    const metrics = existsSync(file('metrics.json')) ? numbers(JSON.parse(readFileSync(file('metrics.json'), 'utf8')) as Record<string, unknown>) : {};
    return { onnx: new Uint8Array(readFileSync(file('model.onnx'))), signature, metrics };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const numbers = (o: Record<string, unknown>): Record<string, number> => Object.fromEntries(Object.entries(o).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));

/** The model version serving now: the last succeeded Deployment in the pipeline's chain. */
async function champion(deps: StepsDeps, config: PipelineConfig): Promise<LedgerRecord<'Deployment'> | undefined> {
  const history = await deps.ledger.history(subjectOf(config));
  return history.filter((r): r is LedgerRecord<'Deployment'> => r.kind === 'Deployment' && (r as LedgerRecord<'Deployment'>).data.status === 'succeeded').at(-1);
}

/** Accuracy of a model on a dataset version (the label as the config defines the positive outcome); rows without a label are left out. */
async function accuracy(deps: StepsDeps, model: LedgerRecord<'ModelVersion'>, dsv: LedgerRecord<'DatasetVersion'>, config: PipelineConfig): Promise<number> {
  const signature = checkModelSignature(model.data.signature);
  const scorer = await deps.loadModel(await deps.models.read(model), signature);
  const threshold = config.probabilityThreshold ?? 0.5;
  const { label } = config;
  const present = (r: Readonly<Record<string, unknown>>): boolean => r[label.column] !== undefined && r[label.column] !== null && r[label.column] !== '';
  const positive = (raw: unknown): boolean => (label.threshold !== undefined ? Number(raw) > label.threshold : label.values!.map(String).includes(typeof raw === 'string' ? raw : JSON.stringify(raw)));
  let correct = 0;
  let total = 0;
  try {
    await scoreDatasetVersion(dsv, deps.objects, scorer, signature, { batchSize: 1024, include: present }, (record, score) => {
      total++;
      if (score > threshold === positive(record[label.column])) correct++;
    });
  } finally {
    await scorer.release();
  }
  return total > 0 ? correct / total : Number.NaN;
}

/** Champion/challenger on the same holdout: is the candidate good enough to replace what serves? */
export async function evaluate(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<ChampionDecision & { championModelVersionId: string | null; gateReportId: string }> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const candidate = await modelVersion(deps, text(event, 'modelVersionId'));
  const serving = await champion(deps, config);
  const championModel = serving ? await modelVersion(deps, serving.data.modelVersionId) : undefined;
  const challengerAccuracy = await accuracy(deps, candidate, dsv, config);
  const championAccuracy = championModel ? await accuracy(deps, championModel, dsv, config) : null;
  const decision = decideChampion('accuracy', challengerAccuracy, championAccuracy, config.minImprovement ?? 0);
  // The decision is a gate like the others: a GateReport derived from the data and both models.
  const { record } = await deps.ledger.append({
    kind: 'GateReport',
    id: deterministicId('gr', 'evaluation', dsv.id, candidate.id, championModel?.id ?? 'none'),
    subject: `dataset/${dsv.data.dataset}`,
    parents: [dsv.id, candidate.id, ...(championModel ? [championModel.id] : [])],
    data: { gate: 'evaluation', passed: decision.promote, metrics: { 'challenger.accuracy': Number.isFinite(challengerAccuracy) ? challengerAccuracy : null, 'champion.accuracy': championAccuracy }, thresholds: { minImprovement: config.minImprovement ?? 0 }, reasons: [decision.reason] },
  });
  return { ...decision, championModelVersionId: championModel?.id ?? null, gateReportId: record.id };
}

/** Records the Deployment of the candidate (serving is the endpoint construct's; this is the record it hands over). */
export async function deploy(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<{ deploymentId: string }> {
  const model = await modelVersion(deps, text(event, 'modelVersionId'));
  const previous = typeof event.previousModelVersionId === 'string' ? event.previousModelVersionId : undefined;
  const executionName = text(event, 'executionName');
  const { record } = await deps.ledger.append({
    kind: 'Deployment',
    id: deterministicId('dp', config.pipeline, executionName, model.id),
    subject: subjectOf(config),
    parents: [model.id],
    data: { endpoint: `pipeline/${config.pipeline}`, modelVersionId: model.id, ...(previous ? { previousModelVersionId: previous } : {}), strategy: 'record-only', reason: previous ? 'retrain' : 'initial', status: 'succeeded' },
  });
  return { deploymentId: record.id };
}

/** A task error's cause, short: a failed job's FailureReason, a Lambda's errorMessage, else the text. */
function causeText(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { FailureReason?: unknown; errorMessage?: unknown };
    if (typeof parsed.FailureReason === 'string') return parsed.FailureReason;
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the text itself
  }
  return cause.slice(0, 2000);
}

/** Records why an execution stopped (a gate, a failed job, a worse model) as an Incident; returns the message for the Fail state. */
export async function recordFailure(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<{ incidentId: string; stage: string; reason: string }> {
  const executionName = text(event, 'executionName');
  const stage = text(event, 'stage');
  const error = event.error as { Error?: string; Cause?: string } | undefined;
  const reason = typeof event.reason === 'string' && event.reason !== '' ? event.reason : error ? `${error.Error ?? 'Error'}: ${causeText(error.Cause)}` : 'unknown';
  const parents = ['datasetVersionId', 'modelVersionId'].map((f) => event[f]).filter((v): v is string => typeof v === 'string' && v !== '');
  const { record } = await deps.ledger.append({
    kind: 'Incident',
    id: deterministicId('in', config.pipeline, executionName, stage),
    subject: subjectOf(config),
    parents,
    data: { type: stage.endsWith('gate') ? 'gate-failure' : 'pipeline-failure', reason: `${stage}: ${reason}`, pipeline: config.pipeline, details: { executionName, stage } },
  });
  return { incidentId: record.id, stage, reason: `${stage}: ${reason}` };
}
