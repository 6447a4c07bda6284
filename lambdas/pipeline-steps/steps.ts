import { createReadStream, mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pipeline as pipe } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import type { ValueSpec } from '../core/bias-gate';
import { endpointSubject, servingDeployment } from '../core/deployment';
import { CdkMlopsError, InvalidEventError, ModelError } from '../core/errors';
import { deterministicId, sha256Hex, type LedgerRecord, type RecordDraft, type TrainingInputs } from '../core/lineage';
import { checkModelSignature, type ModelSignature } from '../core/model-signature';
import { checkHoldoutPercent, decideChampion, trainingImageRecord, trainingJobName, type ChampionDecision } from '../core/pipeline';
import type { ObjectReader } from '../ingest/ingest';
import type { ArtifactStore } from '../shared/artifact-store';
import type { ModelArtifactReader } from '../shared/model-artifacts';
import { parseS3Uri } from '../shared/model-artifacts';
import type { DatasetFile } from '../shared/dataset-reader';
import { scoreDatasetVersion, type ModelScorer } from '../shared/model-scoring';
import { sourceModel } from '../shared/serving-lineage';
import { objectDigest } from '../shared/s3-objects';
import { splitDatasetVersion, snapshotFormat, type SnapshotFormat } from './split';

/*
 * The training pipeline's own steps, one Lambda: wait for the pipeline's turn
 * (one execution at a time), prepare (split the dataset version into the
 * training channel and the holdout, name the jobs), record the trained model
 * (TrainingRun + ModelVersion, the ONNX model out of model.tar.gz, hashed),
 * evaluate (champion/challenger on the holdout), the Model Registry entry's
 * details, record the approval (a GateReport), record a Neo-compiled model,
 * deploy (record the Deployment; the endpoint constructs take over the
 * serving), and record a failure (an Incident). Every record derives from the
 * one before it.
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
  /** Where evaluation reports go. @default 'reports/' */
  readonly reportsPrefix?: string;
  /** The training job's settings, recorded in the TrainingRun. */
  readonly instanceType: string;
  readonly instanceCount: number;
  /** The share of rows (percent, by content) kept from training to judge champion and challenger. @default 20 */
  readonly holdoutPercent?: number;
  /** Who approves a registered model: the pipeline once the gates pass, or a person. @default 'automatic' */
  readonly approval?: 'automatic' | 'manual';
  /** The Model Registry group (recorded with the approval). */
  readonly modelPackageGroup?: string;
  /** The endpoint approved models are released to: what it serves is the champion. @default - none (Deployments only recorded) */
  readonly endpoint?: string;
}

/** The running executions of the pipeline's state machine (ListExecutions, RUNNING). */
export interface ExecutionLister {
  running(stateMachineArn: string): Promise<readonly { readonly name: string; readonly startDate: Date }[]>;
}

export interface StepsDeps {
  readonly s3: S3Client;
  readonly ledger: {
    get(id: string): Promise<LedgerRecord | undefined>;
    append(draft: RecordDraft): Promise<{ record: LedgerRecord }>;
    history(subject: string): Promise<LedgerRecord[]>;
  };
  readonly objects: ObjectReader;
  /** The artifacts bucket: models and evaluation reports are written there once. */
  readonly artifacts: Pick<ArtifactStore, 'putOnce' | 'putPinned' | 'putJson'>;
  readonly models: ModelArtifactReader;
  readonly executions: ExecutionLister;
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

/** Another execution of the pipeline started first and still runs: retried by the state machine until it ends. */
export class PipelineBusyError extends CdkMlopsError {}

/**
 * One execution at a time: this one goes on when no execution that started
 * before it (by start time, then name) is still running. Executions therefore
 * train in the order they started; a later upload waits its turn.
 */
export async function turn(event: Record<string, unknown>, deps: StepsDeps): Promise<{ ahead: number }> {
  const stateMachineArn = text(event, 'stateMachineArn');
  const executionName = text(event, 'executionName');
  const startTime = new Date(text(event, 'startTime'));
  if (Number.isNaN(startTime.getTime())) throw new InvalidEventError(`startTime: '${String(event.startTime)}' is not a time`);
  const before = (await deps.executions.running(stateMachineArn)).filter((e) => e.name !== executionName && (e.startDate.getTime() < startTime.getTime() || (e.startDate.getTime() === startTime.getTime() && e.name < executionName)));
  if (before.length > 0) throw new PipelineBusyError(`${before.length} earlier execution(s) of the pipeline still run (${before.map((e) => e.name).join(', ')}); waiting for them to end`);
  return { ahead: 0 };
}

/** Where a dataset version's training snapshot lives: the training channel and the holdout. */
export function snapshotKeys(config: PipelineConfig, dsv: LedgerRecord<'DatasetVersion'>): { train: string; holdout: string; format: SnapshotFormat } {
  const format = snapshotFormat(dsv.data.format);
  const dir = `${config.trainingPrefix ?? 'training/'}${config.pipeline}/snapshots/${dsv.id}/`;
  return { train: `${dir}train/train.${format}`, holdout: `${dir}holdout/holdout.${format}`, format };
}

export interface Prepared {
  readonly trainingJobName: string;
  /** S3 prefix holding exactly the training rows: the channel SageMaker reads. */
  readonly trainUri: string;
  readonly outputUri: string;
  readonly format: SnapshotFormat;
  readonly trainRows: number;
  /** The training file (the channel's one object) and the hex SHA-256 of its bytes. */
  readonly trainObject: string;
  readonly trainSha256: string;
  readonly holdoutPercent: number;
  readonly holdoutRows: number;
  /** Idempotency token of the Model Registry entry (a retried registration is one model package). */
  readonly registrationToken: string;
  /** The Neo compilation job's name, when the pipeline compiles. */
  readonly compilationJobName: string;
}

const CONTENT_TYPES: Record<SnapshotFormat, string> = { csv: 'text/csv', tsv: 'text/tab-separated-values', jsonl: 'application/jsonlines' };

/**
 * The training snapshot: the dataset version (its exact object version) split
 * by content into the training channel and the holdout, both written under the
 * training prefix. The trainer never sees the holdout.
 */
export async function prepare(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<Prepared> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const executionName = text(event, 'executionName');
  if (dsv.data.status !== 'accepted') throw new InvalidEventError(`datasetVersionId: ${dsv.id} was rejected at ingest (${dsv.data.reason ?? 'no reason'})`);
  const keys = snapshotKeys(config, dsv);
  const dir = mkdtempSync(path.join(tmpdir(), 'snapshot-'));
  try {
    const holdoutPercent = checkHoldoutPercent(config.holdoutPercent ?? 20);
    const split = await splitDatasetVersion(dsv, deps.objects, { dir, percent: holdoutPercent, salt: config.pipeline });
    for (const [key, file] of [
      [keys.train, split.train],
      [keys.holdout, split.holdout],
    ] as const) {
      if (file.bytes > 5 * 1024 ** 3) throw new InvalidEventError(`datasetVersionId: ${dsv.id}'s ${path.posix.basename(key)} would be ${file.bytes} bytes; the pipeline writes snapshots of up to 5 GiB`);
      await deps.s3.send(new PutObjectCommand({ Bucket: config.artifactsBucket, Key: key, Body: createReadStream(file.path), ContentLength: file.bytes, ContentType: CONTENT_TYPES[split.format] }));
    }
    const jobName = trainingJobName(config.pipeline, executionName);
    return {
      trainingJobName: jobName,
      trainUri: `s3://${config.artifactsBucket}/${path.posix.dirname(keys.train)}/`,
      outputUri: `s3://${config.artifactsBucket}/${config.trainingPrefix ?? 'training/'}${config.pipeline}/jobs`,
      format: split.format,
      trainRows: split.train.rows,
      trainObject: `s3://${config.artifactsBucket}/${keys.train}`,
      trainSha256: split.train.sha256,
      holdoutPercent,
      holdoutRows: split.holdout.rows,
      registrationToken: sha256Hex(`register\u0000${config.pipeline}\u0000${executionName}`).slice(0, 36),
      compilationJobName: `${jobName.slice(0, 59)}-neo`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

/**
 * What started the execution, from its input's `trigger` (the drift starter
 * sends `{ type: 'drift', incidentId }`): recorded on the TrainingRun, the
 * Incident as its parent, so "why was this model trained" is in the lineage.
 * An incident id that is not an Incident in the ledger is an error, not a guess.
 */
async function runTrigger(deps: StepsDeps, input: unknown): Promise<{ type: string; incidentId?: string } | undefined> {
  const t = (input as { trigger?: unknown } | null | undefined)?.trigger;
  if (t === undefined || t === null) return undefined;
  const { type, incidentId } = t as { type?: unknown; incidentId?: unknown };
  if (typeof type !== 'string' || type === '') throw new InvalidEventError('executionInput.trigger.type: expected a non-empty string');
  if (incidentId === undefined) return { type };
  if (typeof incidentId !== 'string' || (await deps.ledger.get(incidentId))?.kind !== 'Incident') throw new InvalidEventError(`executionInput.trigger.incidentId: no Incident ${JSON.stringify(incidentId)} in the ledger`);
  return { type, incidentId };
}

/** The job's inputs from the prepare step's result (`prepared`), when the execution passed it. */
function trainingInputs(prepared: unknown): TrainingInputs | undefined {
  if (prepared === undefined || prepared === null) return undefined;
  const p = prepared as Partial<Prepared>;
  if (typeof p.trainUri !== 'string' || typeof p.trainObject !== 'string' || typeof p.trainSha256 !== 'string' || typeof p.trainRows !== 'number' || typeof p.format !== 'string' || typeof p.holdoutPercent !== 'number') {
    throw new InvalidEventError('prepared: expected the prepare step\'s result (trainUri, trainObject, trainSha256, trainRows, format, holdoutPercent)');
  }
  return { train: { channel: p.trainUri, object: p.trainObject, sha256: p.trainSha256, rows: p.trainRows, format: p.format }, holdoutPercent: p.holdoutPercent };
}

/** Records the TrainingRun and the ModelVersion: model.onnx out of the job's model.tar.gz, hashed, written once under models/. */
export async function recordModel(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<RecordedModel> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const executionName = text(event, 'executionName');
  const job = event.trainingJob as TrainingJobResult | undefined;
  const artifacts = job?.ModelArtifacts?.S3ModelArtifacts;
  if (!job || typeof artifacts !== 'string') throw new InvalidEventError('trainingJob.ModelArtifacts.S3ModelArtifacts: expected the training job result');
  const { onnx, signature, metrics, archiveSha256 } = await extractModel(deps.s3, artifacts);
  const sha256 = sha256Hex(onnx);
  const key = `${config.modelsPrefix ?? 'models/'}${config.pipeline}/${sha256.slice(0, 16)}/model.onnx`;
  // the record pins the object version: replacing the bytes at the key later changes nothing that serves
  const { uri: modelUri, versionId } = await deps.artifacts.putPinned(key, onnx, 'application/octet-stream');
  const jobMetrics = Object.fromEntries((job.FinalMetricDataList ?? []).map((m) => [m.MetricName, m.Value]));
  const trigger = await runTrigger(deps, event.executionInput);
  const inputs = trainingInputs(event.prepared);
  const run = await deps.ledger.append({
    kind: 'TrainingRun',
    id: deterministicId('tr', config.pipeline, job.TrainingJobName),
    subject: subjectOf(config),
    parents: [dsv.id, ...(trigger?.incidentId ? [trigger.incidentId] : [])],
    data: {
      pipeline: config.pipeline,
      executionId: executionName,
      datasetVersionIds: [dsv.id],
      image: trainingImageRecord(job.AlgorithmSpecification?.TrainingImage ?? 'unknown'),
      hyperparameters: { ...(job.HyperParameters ?? {}) },
      ...(inputs ? { inputs } : {}),
      instanceType: config.instanceType,
      instanceCount: config.instanceCount,
      trainingJobName: job.TrainingJobName,
      status: 'succeeded',
      metrics: { ...metrics, ...jobMetrics },
      ...(trigger ? { trigger } : {}),
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
      artifact: { uri: modelUri, sha256, ...(versionId ? { versionId } : {}) },
      format: 'onnx',
      // the job's archive, for SageMaker endpoints (hashed as it was read)
      archive: { uri: artifacts, sha256: archiveSha256 },
      signature,
      metrics: { ...metrics, ...jobMetrics },
      // records are never changed: the decision is an 'approval' GateReport derived from this one
      approval: { status: 'PendingManualApproval' },
    },
  });
  return { trainingRunId: run.record.id, modelVersionId: model.record.id, modelUri, sha256 };
}

async function extractModel(s3: S3Client, uri: string): Promise<{ onnx: Uint8Array; signature: ModelSignature; metrics: Record<string, number>; archiveSha256: string }> {
  const { bucket, key } = parseS3Uri(uri);
  const dir = mkdtempSync(path.join(tmpdir(), 'model-'));
  try {
    const body = (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable;
    const wanted = new Set(['model.onnx', 'signature.json', 'metrics.json']);
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipe(body, tap, tar.x({ cwd: dir, strict: true, filter: (p) => wanted.has(p.replace(/^\.\//, '')) }));
    const file = (name: string): string => path.join(dir, name);
    if (!existsSync(file('model.onnx'))) throw new ModelError(`${uri} has no model.onnx (the trainer must export ONNX)`);
    if (!existsSync(file('signature.json'))) throw new ModelError(`${uri} has no signature.json (inputs, features, output)`);
    const signature = checkModelSignature(JSON.parse(readFileSync(file('signature.json'), 'utf8')));
    const metrics = existsSync(file('metrics.json')) ? numbers(JSON.parse(readFileSync(file('metrics.json'), 'utf8')) as Record<string, unknown>) : {};
    return { onnx: new Uint8Array(readFileSync(file('model.onnx'))), signature, metrics, archiveSha256: hash.digest('hex') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const numbers = (o: Record<string, unknown>): Record<string, number> => Object.fromEntries(Object.entries(o).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));

/**
 * The model version serving now: the endpoint's serving release (a rollback
 * included) when the pipeline releases to one, else the last succeeded
 * Deployment in the pipeline's chain.
 */
async function champion(deps: StepsDeps, config: PipelineConfig): Promise<LedgerRecord<'Deployment'> | undefined> {
  return servingDeployment(await deps.ledger.history(config.endpoint ? endpointSubject(config.endpoint) : subjectOf(config)));
}

/** Accuracy of a model on a dataset file (the label as the config defines the positive outcome); rows without a label are left out. */
async function accuracy(deps: StepsDeps, model: LedgerRecord<'ModelVersion'>, holdout: DatasetFile, config: PipelineConfig): Promise<{ accuracy: number; rows: number }> {
  const signature = checkModelSignature(model.data.signature);
  const scorer = await deps.loadModel(await deps.models.read(model), signature);
  const threshold = config.probabilityThreshold ?? 0.5;
  const { label } = config;
  const present = (r: Readonly<Record<string, unknown>>): boolean => r[label.column] !== undefined && r[label.column] !== null && r[label.column] !== '';
  const positive = (raw: unknown): boolean => (label.threshold !== undefined ? Number(raw) > label.threshold : label.values!.map(String).includes(typeof raw === 'string' ? raw : JSON.stringify(raw)));
  let correct = 0;
  let total = 0;
  try {
    await scoreDatasetVersion(holdout, deps.objects, scorer, signature, { batchSize: 1024, include: present }, (record, score) => {
      total++;
      if (score > threshold === positive(record[label.column])) correct++;
    });
  } finally {
    await scorer.release();
  }
  return { accuracy: total > 0 ? correct / total : Number.NaN, rows: total };
}

/** The holdout prepare wrote for this dataset version, as a file to read. */
async function holdoutFile(deps: StepsDeps, config: PipelineConfig, dsv: LedgerRecord<'DatasetVersion'>): Promise<DatasetFile> {
  const keys = snapshotKeys(config, dsv);
  const head = await deps.s3.send(new HeadObjectCommand({ Bucket: config.artifactsBucket, Key: keys.holdout }));
  return { data: { bucket: config.artifactsBucket, key: keys.holdout, versionId: head.VersionId ?? null, etag: head.ETag?.replace(/"/g, '') ?? null, size: head.ContentLength ?? 0, format: keys.format } };
}

/**
 * Champion/challenger on the holdout: is the candidate good enough to replace
 * what serves? Both models are scored on the same rows, which neither trained
 * on (the split is by content). The decision is a GateReport, its details a
 * stored report (attached to the Model Registry entry).
 */
export async function evaluate(
  event: Record<string, unknown>,
  deps: StepsDeps,
  config: PipelineConfig,
): Promise<ChampionDecision & { championModelVersionId: string | null; gateReportId: string; reportUri: string; holdoutRows: number }> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const candidate = await modelVersion(deps, text(event, 'modelVersionId'));
  const serving = await champion(deps, config);
  const championModel = serving ? await modelVersion(deps, serving.data.modelVersionId) : undefined;
  const holdout = await holdoutFile(deps, config, dsv);
  const challenger = await accuracy(deps, candidate, holdout, config);
  // a Neo-compiled champion (an Inferentia endpoint) is scored as the ONNX model it was compiled from
  const championScore = championModel ? await accuracy(deps, await sourceModel(deps.ledger, championModel), holdout, config) : null;
  const decision = decideChampion('accuracy', challenger.accuracy, championScore?.accuracy ?? null, config.minImprovement ?? 0);
  const reason = challenger.rows === 0 ? `the holdout of ${dsv.id} has no labelled rows: nothing to judge the candidate on` : decision.reason;
  const metrics = { 'challenger.accuracy': Number.isFinite(challenger.accuracy) ? challenger.accuracy : null, 'champion.accuracy': championScore?.accuracy ?? null, 'holdout.rows': challenger.rows };
  const thresholds = { minImprovement: config.minImprovement ?? 0, probabilityThreshold: config.probabilityThreshold ?? 0.5 };
  const reportUri = await deps.artifacts.putJson(`${config.reportsPrefix ?? 'reports/'}evaluation/${config.pipeline}/${dsv.id}-${candidate.id}.json`, {
    gate: 'evaluation',
    datasetVersionId: dsv.id,
    modelVersionId: candidate.id,
    championModelVersionId: championModel?.id ?? null,
    holdout: `s3://${holdout.data.bucket}/${holdout.data.key}`,
    label: config.label,
    passed: decision.promote,
    metrics,
    thresholds,
    reasons: [reason],
  });
  // The decision is a gate like the others: a GateReport derived from the data and both models.
  const { record } = await deps.ledger.append({
    kind: 'GateReport',
    id: deterministicId('gr', 'evaluation', dsv.id, candidate.id, championModel?.id ?? 'none'),
    subject: `dataset/${dsv.data.dataset}`,
    parents: [dsv.id, candidate.id, ...(championModel ? [championModel.id] : [])],
    data: { gate: 'evaluation', passed: decision.promote, metrics, thresholds, reasons: [reason], reportUri },
  });
  return { ...decision, reason, championModelVersionId: championModel?.id ?? null, gateReportId: record.id, reportUri, holdoutRows: challenger.rows };
}

/** The gate reports recorded for a model version, newest per gate. */
async function gateReportsOf(deps: StepsDeps, dsv: LedgerRecord<'DatasetVersion'>, model: LedgerRecord<'ModelVersion'>): Promise<Map<string, LedgerRecord<'GateReport'>>> {
  const reports = new Map<string, LedgerRecord<'GateReport'>>();
  for (const r of await deps.ledger.history(`dataset/${dsv.data.dataset}`)) {
    if (r.kind === 'GateReport' && r.parents.includes(model.id)) reports.set((r as LedgerRecord<'GateReport'>).data.gate, r as LedgerRecord<'GateReport'>);
  }
  return reports;
}

/**
 * The Model Registry entry's details (CreateModelPackage fields), from the
 * ledger: the evaluation report as model quality, the bias report as the
 * post-training bias report, the lineage ids as metadata.
 */
export async function registration(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<Record<string, unknown>> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const model = await modelVersion(deps, text(event, 'modelVersionId'));
  const reports = await gateReportsOf(deps, dsv, model);
  const evaluation = reports.get('evaluation');
  const bias = reports.get('bias');
  const json = (uri: string | undefined) => (uri ? { ContentType: 'application/json', S3Uri: uri } : undefined);
  return {
    description: `${config.pipeline}: ${model.id}, trained on ${dsv.id} (${dsv.data.dataset}); gates: ${[...reports.values()].map((r) => `${r.data.gate} ${r.data.passed ? 'passed' : 'failed'}`).join(', ') || 'none'}`.slice(0, 1024),
    approvalStatus: (config.approval ?? 'automatic') === 'automatic' ? 'Approved' : 'PendingManualApproval',
    modelMetrics: {
      ...(evaluation?.data.reportUri ? { ModelQuality: { Statistics: json(evaluation.data.reportUri) } } : {}),
      ...(bias?.data.reportUri ? { Bias: { PostTrainingReport: json(bias.data.reportUri) } } : {}),
    },
    metadata: {
      'cdk-mlops:modelVersionId': model.id,
      'cdk-mlops:trainingRunId': model.data.trainingRunId,
      'cdk-mlops:datasetVersionId': dsv.id,
      'cdk-mlops:sha256': model.data.artifact.sha256,
      'cdk-mlops:onnx': model.data.artifact.uri,
      ...(evaluation ? { 'cdk-mlops:evaluation': evaluation.id } : {}),
      ...(bias ? { 'cdk-mlops:bias': bias.id } : {}),
    },
  };
}

/** An approver's answer (SendTaskSuccess output of the approval task). */
interface ApprovalDecision {
  readonly approved: boolean;
  readonly by: string;
  readonly comment?: string;
}

function approvalDecision(value: unknown): ApprovalDecision {
  const d = value as Partial<ApprovalDecision> | undefined;
  if (!d || typeof d.approved !== 'boolean') throw new InvalidEventError('decision.approved: expected true or false (send it with `cdk-mlops pipeline approve`)');
  if (typeof d.by !== 'string' || d.by.trim() === '') throw new InvalidEventError('decision.by: expected who decided');
  if (d.comment !== undefined && typeof d.comment !== 'string') throw new InvalidEventError('decision.comment: expected text');
  return { approved: d.approved, by: d.by.trim().slice(0, 256), ...(d.comment ? { comment: d.comment.slice(0, 512) } : {}) };
}

/**
 * Records who approved (or rejected) the registered model as an 'approval'
 * GateReport: the pipeline itself in automatic mode (the gates passed), else
 * the person's decision. Returns the registry status to set.
 */
export async function recordApproval(
  event: Record<string, unknown>,
  deps: StepsDeps,
  config: PipelineConfig,
): Promise<{ approved: boolean; status: 'Approved' | 'Rejected'; description: string; reason: string; gateReportId: string }> {
  const dsv = await datasetVersion(deps, text(event, 'datasetVersionId'));
  const model = await modelVersion(deps, text(event, 'modelVersionId'));
  const modelPackageArn = text(event, 'modelPackageArn');
  const decision = event.decision === undefined ? { approved: true, by: 'pipeline (automatic: the gates passed)' } : approvalDecision(event.decision);
  const description = `${decision.approved ? 'approved' : 'rejected'} by ${decision.by}${'comment' in decision && decision.comment ? `: ${decision.comment}` : ''}`;
  const { record } = await deps.ledger.append({
    kind: 'GateReport',
    id: deterministicId('gr', 'approval', dsv.id, model.id, modelPackageArn),
    subject: `dataset/${dsv.data.dataset}`,
    parents: [dsv.id, model.id],
    data: { gate: 'approval', passed: decision.approved, metrics: {}, thresholds: {}, reasons: [description], modelPackageArn, ...(config.modelPackageGroup ? { modelPackageGroup: config.modelPackageGroup } : {}) },
  });
  return { approved: decision.approved, status: decision.approved ? 'Approved' : 'Rejected', description: description.slice(0, 1024), reason: `model ${model.id} ${description}`, gateReportId: record.id };
}

interface CompilationJobResult {
  readonly CompilationJobName: string;
  readonly CompilationJobStatus: string;
  readonly ModelArtifacts?: { readonly S3ModelArtifacts?: string };
  readonly OutputConfig?: { readonly TargetDevice?: string };
}

/** Records the Neo-compiled model as a ModelVersion derived from the trained one, its artifact hashed. */
export async function recordCompilation(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<{ compiledModelVersionId: string; uri: string; sha256: string }> {
  const model = await modelVersion(deps, text(event, 'modelVersionId'));
  const job = event.compilation as CompilationJobResult | undefined;
  const uri = job?.ModelArtifacts?.S3ModelArtifacts;
  if (!job || job.CompilationJobStatus !== 'COMPLETED' || typeof uri !== 'string') throw new InvalidEventError('compilation: expected a COMPLETED compilation job with ModelArtifacts.S3ModelArtifacts');
  const { sha256, versionId } = await objectDigest(deps.s3, uri);
  const device = job.OutputConfig?.TargetDevice ?? 'unknown';
  const { record } = await deps.ledger.append({
    kind: 'ModelVersion',
    id: deterministicId('mv', config.pipeline, job.CompilationJobName, sha256),
    subject: subjectOf(config),
    parents: [model.id],
    data: {
      pipeline: config.pipeline,
      trainingRunId: model.data.trainingRunId,
      artifact: { uri, sha256, ...(versionId ? { versionId } : {}) },
      format: `neo:${device}`,
      metrics: model.data.metrics,
      approval: { status: 'Approved', by: `derived from ${model.id}` },
    },
  });
  return { compiledModelVersionId: record.id, uri, sha256 };
}

/** Records the Deployment in the pipeline's chain: released to the endpoint (its own chain has the release), or recorded only. */
export async function deploy(event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig): Promise<{ deploymentId: string }> {
  const model = await modelVersion(deps, text(event, 'modelVersionId'));
  const previous = typeof event.previousModelVersionId === 'string' ? event.previousModelVersionId : undefined;
  const executionName = text(event, 'executionName');
  const { record } = await deps.ledger.append({
    kind: 'Deployment',
    id: deterministicId('dp', config.pipeline, executionName, model.id),
    subject: subjectOf(config),
    parents: [model.id],
    data: { endpoint: config.endpoint ?? `pipeline/${config.pipeline}`, modelVersionId: model.id, ...(previous ? { previousModelVersionId: previous } : {}), strategy: config.endpoint ? `released:endpoint/${config.endpoint}` : 'record-only', reason: previous ? 'retrain' : 'initial', status: 'succeeded' },
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
