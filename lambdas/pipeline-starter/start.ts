import { endpointSubject, servingDeployment } from '../core/deployment';
import { InvalidEventError } from '../core/errors';
import { deterministicId, type LedgerRecord, type RecordDraft } from '../core/lineage';
import { executionNameFor } from '../core/pipeline';
import { parseObjectCreated, type ObjectCreated } from '../ingest/event';
import { datasetOf, datasetVersionId } from '../ingest/ingest';
import { trainingDataOf } from '../shared/serving-lineage';

/*
 * Event-driven retraining: an upload under one of the pipeline's datasets starts
 * one execution named after the DatasetVersion the upload becomes (the same
 * deterministic id the ingest Lambda records), so a duplicate event finds the
 * name taken and starts nothing. The pipeline's first state waits for ingest to
 * have recorded that version.
 */

export interface StarterSettings {
  readonly stateMachineArn: string;
  readonly dataPrefix: string;
  /** Datasets (folders under the data prefix) whose uploads retrain; empty: every dataset. */
  readonly datasets: readonly string[];
}

export interface Starter {
  /** Starts an execution; 'exists' when an execution of that name already exists. */
  start(input: { stateMachineArn: string; name: string; input: string }): Promise<'started' | 'exists'>;
}

export interface StartOutcome {
  readonly started: boolean;
  readonly duplicate: boolean;
  readonly datasetVersionId?: string;
  readonly executionName?: string;
  readonly reason?: string;
}

export async function startForUpload(event: unknown, starter: Starter, settings: StarterSettings): Promise<StartOutcome> {
  const ref = parseObjectCreated(event);
  const placed = datasetOf(ref.key, settings.dataPrefix);
  if ('reason' in placed) return { started: false, duplicate: false, reason: placed.reason };
  if (settings.datasets.length > 0 && !settings.datasets.includes(placed.dataset)) return { started: false, duplicate: false, reason: `dataset '${placed.dataset}' does not retrain this pipeline` };
  return startOnVersion(ref, starter, settings.stateMachineArn);
}

/** Starts one execution on the version an upload becomes, named after it (a second start finds the name taken). */
async function startOnVersion(ref: ObjectCreated, starter: Starter, stateMachineArn: string, trigger?: { type: 'drift'; incidentId: string }): Promise<StartOutcome> {
  const id = datasetVersionId(ref);
  const name = executionNameFor(id);
  const result = await starter.start({ stateMachineArn, name, input: JSON.stringify({ datasetVersionId: id, ...(trigger ? { trigger } : {}) }) });
  return { started: result === 'started', duplicate: result === 'exists', datasetVersionId: id, executionName: name };
}

/*
 * Retraining on drift: the DriftMonitor's alarm, through an EventBridge rule,
 * delivers { trigger: 'drift', endpoint, alarmName, time, reason }. The
 * retraining runs on the newest accepted version of the dataset the serving
 * model was trained on, under the same execution name an upload of that
 * version gets, so the two triggers never train twice on the same data. At
 * most one retraining is in flight: while an execution runs, nothing starts.
 * Either way the Incident is recorded first (its id derives from the alarm and
 * its time, so a redelivered event records nothing twice), saying what was
 * decided.
 */

export interface DriftTrigger {
  readonly endpoint: string;
  readonly alarmName: string;
  readonly time: string;
  readonly reason: string;
}

export interface DriftStarterDeps {
  readonly ledger: {
    get(id: string): Promise<LedgerRecord | undefined>;
    history(subject: string): Promise<LedgerRecord[]>;
    append(draft: RecordDraft<'Incident'>): Promise<{ record: LedgerRecord }>;
  };
  readonly starter: Starter;
  /** Names of the state machine's RUNNING executions. */
  running(stateMachineArn: string): Promise<readonly string[]>;
}

export type RetrainingDecision =
  | { readonly action: 'start'; readonly datasetVersionId: string; readonly executionName: string }
  | { readonly action: 'none'; readonly why: 'in-flight' | 'no-new-data' | 'no-model'; readonly detail: string };

export interface DriftOutcome {
  readonly incidentId?: string;
  readonly decision: RetrainingDecision;
  /** Set when a start was tried: 'started', or 'exists' (that data already has its execution). */
  readonly start?: 'started' | 'exists';
}

export function parseDriftTrigger(event: unknown): DriftTrigger {
  const e = (event ?? {}) as Record<string, unknown>;
  const field = (name: string): string => {
    const v = e[name];
    if (typeof v !== 'string' || v === '') throw new InvalidEventError(`${name}: expected a non-empty string in the drift trigger`);
    return v;
  };
  return { endpoint: field('endpoint'), alarmName: field('alarmName'), time: field('time'), reason: typeof e.reason === 'string' ? e.reason : '' };
}

/** The newest accepted version of a dataset, from the ledger. */
async function newestAccepted(ledger: Pick<DriftStarterDeps['ledger'], 'history'>, dataset: string): Promise<LedgerRecord<'DatasetVersion'> | undefined> {
  return (await ledger.history(`dataset/${dataset}`)).findLast((r): r is LedgerRecord<'DatasetVersion'> => r.kind === 'DatasetVersion' && (r as LedgerRecord<'DatasetVersion'>).data.status === 'accepted');
}

export async function startForDrift(trigger: DriftTrigger, deps: DriftStarterDeps, settings: Pick<StarterSettings, 'stateMachineArn'> & { pipeline: string }): Promise<DriftOutcome> {
  const serving = servingDeployment(await deps.ledger.history(endpointSubject(trigger.endpoint)));
  if (!serving) return { decision: { action: 'none', why: 'no-model', detail: `no model serves endpoint '${trigger.endpoint}'` } };
  const mv = await deps.ledger.get(serving.data.modelVersionId);
  const dsv = mv?.kind === 'ModelVersion' ? await trainingDataOf(deps.ledger, (mv as LedgerRecord<'ModelVersion'>).data.trainingRunId) : undefined;
  if (!dsv) throw new InvalidEventError(`endpoint ${trigger.endpoint} serves ${serving.data.modelVersionId}, whose training data is not in the ledger`);
  const dataset = dsv.data.dataset;
  const newest = await newestAccepted(deps.ledger, dataset);
  const running = await deps.running(settings.stateMachineArn);
  let decision: RetrainingDecision;
  if (running.length > 0) decision = { action: 'none', why: 'in-flight', detail: `retraining already in flight: ${running.join(', ')}` };
  else if (!newest || newest.id === dsv.id) decision = { action: 'none', why: 'no-new-data', detail: `no accepted data of '${dataset}' newer than ${dsv.id}, which model ${serving.data.modelVersionId} was trained on: retraining waits for new data` };
  else decision = { action: 'start', datasetVersionId: newest.id, executionName: executionNameFor(newest.id) };

  const { record } = await deps.ledger.append({
    kind: 'Incident',
    id: deterministicId('in', trigger.endpoint, 'drift', trigger.alarmName, trigger.time),
    subject: endpointSubject(trigger.endpoint),
    parents: [serving.id, serving.data.modelVersionId],
    data: {
      type: 'drift',
      reason: `drift on ${trigger.endpoint} (model ${serving.data.modelVersionId}): ${trigger.reason || `alarm ${trigger.alarmName}`}`.slice(0, 2000),
      endpoint: trigger.endpoint,
      pipeline: settings.pipeline,
      details: { alarmName: trigger.alarmName, time: trigger.time, dataset, trainedOn: dsv.id, retraining: decision },
    },
  });
  if (decision.action === 'none') return { incidentId: record.id, decision };
  const start = await deps.starter.start({ stateMachineArn: settings.stateMachineArn, name: decision.executionName, input: JSON.stringify({ datasetVersionId: decision.datasetVersionId, trigger: { type: 'drift', incidentId: record.id } }) });
  return { incidentId: record.id, decision, start };
}

/*
 * A drift that waits for data: the drift Incident decided there was no newer
 * data, and the alarm stays in ALARM, so it will not fire again when data
 * comes. The next upload of that dataset starts the retraining instead, with
 * the waiting Incident as its trigger (unless a release came after it, or a run
 * is in flight).
 */

/** The endpoint's drift Incident still waiting for data, if any. */
export function waitingDrift(history: readonly LedgerRecord[]): LedgerRecord<'Incident'> | undefined {
  const index = history.findLastIndex((r) => r.kind === 'Incident' && (r as LedgerRecord<'Incident'>).data.type === 'drift');
  if (index < 0) return undefined;
  const incident = history[index] as LedgerRecord<'Incident'>;
  const retraining = (incident.data.details as { retraining?: { why?: string } } | undefined)?.retraining;
  if (retraining?.why !== 'no-new-data') return undefined;
  const released = history.slice(index + 1).some((r) => r.kind === 'Deployment' && (r as LedgerRecord<'Deployment'>).data.status === 'succeeded');
  return released ? undefined : incident;
}

export async function startForWaitingDrift(event: unknown, deps: DriftStarterDeps, settings: Pick<StarterSettings, 'stateMachineArn' | 'dataPrefix'> & { endpoints: readonly string[] }): Promise<StartOutcome & { incidentId?: string }> {
  const ref = parseObjectCreated(event);
  const placed = datasetOf(ref.key, settings.dataPrefix);
  if ('reason' in placed) return { started: false, duplicate: false, reason: placed.reason };
  for (const endpoint of settings.endpoints) {
    const waiting = waitingDrift(await deps.ledger.history(endpointSubject(endpoint)));
    if (!waiting || (waiting.data.details as { dataset?: string } | undefined)?.dataset !== placed.dataset) continue;
    const running = await deps.running(settings.stateMachineArn);
    if (running.length > 0) return { started: false, duplicate: false, incidentId: waiting.id, reason: `retraining already in flight: ${running.join(', ')}` };
    return { ...(await startOnVersion(ref, deps.starter, settings.stateMachineArn, { type: 'drift', incidentId: waiting.id })), incidentId: waiting.id };
  }
  return { started: false, duplicate: false, reason: `no drift of ${settings.endpoints.join(', ') || 'any endpoint'} waits for data of '${placed.dataset}'` };
}

/*
 * Retraining on a new training image: ECR's "ECR Image Action" event (a PUSH
 * that succeeded, of the pipeline's repository and tag) retrains on the newest
 * accepted version of the dataset the pipeline last trained on. The execution
 * is named after that version and the pushed digest, so a redelivered event
 * starts nothing and the next push trains again on the same data. The run
 * resolves the tag itself (a PinnedEcrImage) and records the digest it trained.
 */

export interface ImagePush {
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
}

/** ECR's push event; a field it lacks is named. Anything but a successful push is not one. */
export function parseImagePush(event: unknown): ImagePush | { readonly ignored: string } {
  const e = (event ?? {}) as { source?: unknown; 'detail-type'?: unknown; detail?: Record<string, unknown> };
  if (e.source !== 'aws.ecr' || e['detail-type'] !== 'ECR Image Action') throw new InvalidEventError(`source/detail-type: expected an 'ECR Image Action' event from aws.ecr (got ${JSON.stringify(e.source)} / ${JSON.stringify(e['detail-type'])})`);
  const d = e.detail ?? {};
  if (d['action-type'] !== 'PUSH' || d.result !== 'SUCCESS') return { ignored: `not a successful push (${String(d['action-type'])} ${String(d.result)})` };
  const field = (name: string, pattern: RegExp): string => {
    const v = d[name];
    if (typeof v !== 'string' || !pattern.test(v)) throw new InvalidEventError(`detail.${name}: expected ${pattern.source} (got ${JSON.stringify(v)})`);
    return v;
  };
  return { repository: field('repository-name', /^[a-z0-9._/-]+$/), tag: field('image-tag', /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/), digest: field('image-digest', /^sha256:[0-9a-f]{64}$/) };
}

export async function startForImagePush(
  push: ImagePush,
  deps: Pick<DriftStarterDeps, 'ledger' | 'starter'>,
  settings: Pick<StarterSettings, 'stateMachineArn'> & { readonly pipeline: string },
): Promise<StartOutcome> {
  const lastRun = (await deps.ledger.history(`pipeline/${settings.pipeline}`)).findLast((r): r is LedgerRecord<'TrainingRun'> => r.kind === 'TrainingRun');
  const trainedOn = lastRun ? await deps.ledger.get(lastRun.data.datasetVersionIds[0] ?? '') : undefined;
  if (trainedOn?.kind !== 'DatasetVersion') return { started: false, duplicate: false, reason: `pipeline '${settings.pipeline}' has not trained yet: its first run trains with the new image` };
  // the version it trained on was accepted: there is one
  const newest = (await newestAccepted(deps.ledger, (trainedOn as LedgerRecord<'DatasetVersion'>).data.dataset))!;
  const name = executionNameFor(newest.id, `image-${push.digest.slice('sha256:'.length, 'sha256:'.length + 12)}`);
  const result = await deps.starter.start({ stateMachineArn: settings.stateMachineArn, name, input: JSON.stringify({ datasetVersionId: newest.id, trigger: { type: 'image-push' } }) });
  return { started: result === 'started', duplicate: result === 'exists', datasetVersionId: newest.id, executionName: name };
}
