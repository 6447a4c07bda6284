import { endpointSubject, servingDeployment } from '../core/deployment';
import { DatasetParseError } from '../core/errors';
import type { LedgerRecord } from '../core/lineage';
import { DatasetProfile, type DatasetProfileState } from '../core/profile/dataset-profile';
import { CaptureLineError, parseSageMakerCaptureLine, type CapturedInvocation } from '../core/sagemaker-capture';
import { TrafficProfile, trafficDrift, type TrafficDriftReport, type TrafficDriftThresholds } from '../core/traffic-drift';
import type { ObjectReader } from '../ingest/ingest';
import { profileDatasetVersion } from '../shared/dataset-reader';
import { sourceModel, trainingDataOf } from '../shared/serving-lineage';

/*
 * DriftMonitor: on a schedule, the captured traffic of an endpoint's last
 * window against the training data of the model that serves (found through the
 * ledger: Deployment → ModelVersion → TrainingRun → DatasetVersion, whose stored
 * profile the validation gate wrote). Only rows that model scored count:
 * - an OnnxEndpoint's captures (`captures/<endpoint>/yyyy/mm/dd/hh/<time>-<request>.jsonl`,
 *   format 'cdk-mlops') name the model version of each row: a canary's rows are
 *   another model's;
 * - a SageMaker endpoint's (`<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`,
 *   format 'sagemaker', see core/sagemaker-capture.ts) do not: only invocations
 *   from the serving Deployment's record on count, which is written once the
 *   endpoint is InService on the new model (the blue/green update, its old
 *   fleet included, is over).
 * The report is stored (write-once, one per run) and returned; the handler
 * turns it into metrics the alarms read.
 */

export interface MonitorSettings {
  readonly endpoint: string;
  readonly pipeline: string;
  /** Key prefix of the endpoint's captures, ending in '/' (the hour folders are under it). */
  readonly capturePrefix: string;
  /** Who wrote the captures: an OnnxEndpoint ('cdk-mlops') or SageMaker data capture. @default 'cdk-mlops' */
  readonly captureFormat?: 'cdk-mlops' | 'sagemaker';
  readonly profilesPrefix: string;
  /** Where reports go: `<reportsPrefix><endpoint>/<time>.json`. */
  readonly reportsPrefix: string;
  /** The traffic window, ms. */
  readonly windowMs: number;
  readonly minRows: number;
  /** Captured rows read at most per run (the newest objects first). */
  readonly maxRows: number;
  readonly thresholds: TrafficDriftThresholds;
}

export interface MonitorDeps {
  readonly ledger: { get(id: string): Promise<LedgerRecord | undefined>; history(subject: string): Promise<LedgerRecord[]> };
  readonly objects: ObjectReader;
  readonly artifacts: {
    uri(key: string): string;
    getText(key: string): Promise<string | undefined>;
    putJson(key: string, value: unknown): Promise<string>;
    /** Keys under `prefix`, in key order. */
    list(prefix: string): AsyncIterable<string>;
  };
  readonly now: () => Date;
}

export type MonitorResult =
  | { readonly status: 'no-model'; readonly endpoint: string; readonly reason: string }
  | {
      readonly status: 'judged' | 'too-few-rows';
      readonly endpoint: string;
      readonly pipeline: string;
      readonly modelVersionId: string;
      readonly window: { readonly from: string; readonly to: string };
      readonly captureObjects: number;
      /** SageMaker captures only: the invocations read, and those that could not be used. */
      readonly invocations?: SageMakerCaptureCounts;
      readonly report: TrafficDriftReport;
      readonly reportUri: string;
    };

export interface SageMakerCaptureCounts {
  /** Captured invocations in the window since the serving model's Deployment. */
  read: number;
  /** Invocations outside the window, or from before the serving Deployment (another model's). */
  skipped: number;
  /** Lines that could not be read, and the first reason (file and line). */
  unreadable: number;
  firstProblem?: string;
  /** Invocations whose response did not give one score per row: their rows count without scores. */
  unpairedScores: number;
}

/** Capture objects read at once. */
const READ_CONCURRENCY = 32;

/** The rows of one capture file that `modelVersionId` scored; a line that is not JSON is not traffic. */
function addCapturedRows(traffic: TrafficProfile, text: string, modelVersionId: string): void {
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      continue;
    }
    if (row !== null && typeof row === 'object' && (row as Record<string, unknown>).__model_version === modelVersionId) traffic.add(row as Record<string, unknown>);
  }
}

/** The rows of one SageMaker capture file invoked in [from, to]. */
function addSageMakerRows(traffic: TrafficProfile, text: string, key: string, features: readonly string[], from: number, to: number, counts: SageMakerCaptureCounts): void {
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let invocation: CapturedInvocation;
    try {
      invocation = parseSageMakerCaptureLine(line, features);
    } catch (err) {
      if (!(err instanceof CaptureLineError)) throw err;
      counts.unreadable++;
      counts.firstProblem ??= `${key} line ${i + 1}: ${err.message}`;
      return;
    }
    if (invocation.time < from || invocation.time > to) {
      counts.skipped++;
      return;
    }
    counts.read++;
    if (invocation.unpairedScores) counts.unpairedScores++;
    for (const row of invocation.rows) {
      if ('cells' in row) traffic.addText(row.cells, row.prediction);
      else traffic.add(row.prediction === undefined ? row.values : { ...row.values, __prediction: row.prediction });
    }
  });
}

/** The hour folders (`yyyy/mm/dd/hh/`) a window touches. */
export function hourPrefixes(from: Date, to: Date): string[] {
  const out: string[] = [];
  const t = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate(), from.getUTCHours()));
  while (t.getTime() <= to.getTime()) {
    const iso = t.toISOString();
    out.push(`${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/`);
    t.setUTCHours(t.getUTCHours() + 1);
  }
  return out;
}

/** The compact time a capture key starts with (`20261201T150405123Z-...`), as ms; NaN when it has none. */
export function captureTime(key: string): number {
  const m = /\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[^/]*$/.exec(key);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : Number.NaN;
}

/** The training data's profile: the stored one, else profiled now (and stored for the next run). */
async function baselineProfile(dsv: LedgerRecord<'DatasetVersion'>, deps: MonitorDeps, settings: MonitorSettings): Promise<DatasetProfile> {
  const key = `${settings.profilesPrefix}${dsv.data.dataset}/${dsv.id}.json`;
  const stored = await deps.artifacts.getText(key);
  if (stored !== undefined) return DatasetProfile.fromJSON(JSON.parse(stored) as DatasetProfileState);
  const profile = await profileDatasetVersion(dsv, deps.objects);
  await deps.artifacts.putJson(key, profile.toJSON());
  return profile;
}

export async function monitorDrift(deps: MonitorDeps, settings: MonitorSettings): Promise<MonitorResult> {
  const serving = servingDeployment(await deps.ledger.history(endpointSubject(settings.endpoint)));
  if (!serving) return { status: 'no-model', endpoint: settings.endpoint, reason: `no model is deployed to endpoint '${settings.endpoint}'` };
  const modelVersionId = serving.data.modelVersionId;
  const model = await deps.ledger.get(modelVersionId);
  if (model?.kind !== 'ModelVersion') throw new Error(`endpoint ${settings.endpoint} serves '${modelVersionId}', which is not a ModelVersion in the ledger`);
  const mv = model as LedgerRecord<'ModelVersion'>;
  // a Neo-compiled model (an Inferentia endpoint) takes the inputs of the model it was compiled from
  const features = ((await sourceModel(deps.ledger, mv)).data.signature?.features ?? []).map((f) => (typeof f === 'string' ? f : f.column));
  if (features.length === 0) throw new Error(`model ${modelVersionId} records no signature features: there is nothing to compare`);
  const dsv = await trainingDataOf(deps.ledger, mv.data.trainingRunId);
  if (!dsv) throw new Error(`model ${modelVersionId}: its training run ${mv.data.trainingRunId} names no DatasetVersion in the ledger`);
  let baseline: DatasetProfile;
  try {
    baseline = await baselineProfile(dsv, deps, settings);
  } catch (err) {
    if (err instanceof DatasetParseError) throw new Error(`the training data of model ${modelVersionId} (${dsv.id}) cannot be profiled: ${err.message}`, { cause: err });
    throw err;
  }

  const to = deps.now();
  const from = new Date(to.getTime() - settings.windowMs);
  const sageMaker = settings.captureFormat === 'sagemaker';
  // SageMaker captures name no model: only what was invoked since the serving Deployment counts
  const start = sageMaker ? Math.max(from.getTime(), Date.parse(serving.createdAt)) : from.getTime();
  const counts: SageMakerCaptureCounts = { read: 0, skipped: 0, unreadable: 0, unpairedScores: 0 };
  const traffic = new TrafficProfile(features);
  let captureObjects = 0;
  // newest hours first, so a capped run reads the most recent traffic
  for (const hour of hourPrefixes(new Date(start), to).reverse()) {
    const keys: string[] = [];
    for await (const key of deps.artifacts.list(`${settings.capturePrefix}${hour}`)) {
      if (sageMaker) {
        if (key.endsWith('.jsonl')) keys.push(key);
        continue;
      }
      const t = captureTime(key);
      if (t >= start && t <= to.getTime()) keys.push(key);
    }
    keys.reverse();
    // a busy endpoint captures many small objects: read them READ_CONCURRENCY at a time, use them newest first
    for (let i = 0; i < keys.length && traffic.rows < settings.maxRows; i += READ_CONCURRENCY) {
      const batch = keys.slice(i, i + READ_CONCURRENCY);
      const texts = await Promise.all(batch.map((k) => deps.artifacts.getText(k)));
      for (const [j, text] of texts.entries()) {
        if (traffic.rows >= settings.maxRows) break;
        if (text === undefined) continue;
        captureObjects++;
        if (sageMaker) addSageMakerRows(traffic, text, batch[j]!, features, start, to.getTime(), counts);
        else addCapturedRows(traffic, text, modelVersionId);
      }
    }
  }
  const baselineMean = mv.data.metrics['score:mean'];
  const report = trafficDrift(baseline, traffic, { features, baselineMean: Number.isFinite(baselineMean) ? baselineMean! : null, thresholds: settings.thresholds, minRows: settings.minRows });
  const stamp = to.toISOString();
  const reportUri = await deps.artifacts.putJson(`${settings.reportsPrefix}${settings.endpoint}/${stamp.replace(/[-:.]/g, '')}.json`, {
    endpoint: settings.endpoint,
    pipeline: settings.pipeline,
    modelVersionId,
    baseline: { datasetVersionId: dsv.id, rows: baseline.rows },
    window: { from: from.toISOString(), to: stamp },
    captureObjects,
    ...(sageMaker ? { invocations: counts } : {}),
    thresholds: settings.thresholds,
    ...report,
  });
  return { status: report.judged ? 'judged' : 'too-few-rows', endpoint: settings.endpoint, pipeline: settings.pipeline, modelVersionId, window: { from: from.toISOString(), to: stamp }, captureObjects, ...(sageMaker ? { invocations: counts } : {}), report, reportUri };
}
