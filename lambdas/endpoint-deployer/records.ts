import { CdkMlopsError, InvalidEventError } from '../core/errors';
import { deterministicId, type DeploymentData, type LedgerRecord, type RecordDraft } from '../core/lineage';
import { endpointSubject, rollbackTarget } from '../core/deployment';

/*
 * What both kinds of endpoint release have in common: the ledger. A release
 * may start only for a recorded, approved model version; once done it is a
 * Deployment in the endpoint's chain (succeeded, rolled back or failed), a
 * rollback also an Incident saying why. Record ids derive from what they
 * record, so a retried step writes nothing twice.
 */

export interface ReleaseLedger {
  get(id: string): Promise<LedgerRecord | undefined>;
  append(draft: RecordDraft): Promise<{ record: LedgerRecord }>;
  history(subject: string): Promise<LedgerRecord[]>;
  derivedFrom(id: string): Promise<LedgerRecord[]>;
}

/** The model cannot be released: the message says why (not approved, wrong format, bytes altered...). */
export class ReleaseRefusedError extends CdkMlopsError {}

/** There is no earlier model to roll back to. */
export class NothingToRollBackError extends CdkMlopsError {}

/** What `release` (or a rollback that takes time) started: the input of `check`. */
export interface StartedRelease {
  readonly done: boolean;
  readonly modelVersionId: string;
  readonly previousModelVersionId: string | null;
  readonly reason: 'initial' | 'retrain' | 'manual' | 'rollback';
  /** What served before: a Lambda version, or a SageMaker endpoint config. */
  readonly currentVersion: string;
  /** What the release puts live. */
  readonly targetVersion: string;
  /** The CodeDeploy deployment, or the new endpoint config. */
  readonly deploymentId: string | null;
  /** Set when the model already serves: nothing was started. */
  readonly unchanged?: boolean;
  /** What makes the release's records unique. @default - the deployment id, else the target */
  readonly key?: string;
  /** The contract the release fixed (ONNX endpoints checking contracts), recorded in its Deployment. */
  readonly contractKey?: string;
  /** The model's artifact (ONNX endpoints), recorded in its Deployment. */
  readonly modelArtifact?: { readonly uri: string; readonly versionId?: string };
}

export interface ReleaseOutcome {
  readonly done: boolean;
  readonly status: string;
  readonly succeeded?: boolean;
  readonly deploymentRecordId?: string;
  readonly incidentId?: string;
  readonly reason?: string;
}

export function text(event: Record<string, unknown>, field: string): string {
  const v = event[field];
  if (typeof v !== 'string' || v === '') throw new InvalidEventError(`${field}: expected a non-empty string`);
  return v;
}

export function startedRelease(value: unknown): StartedRelease {
  const r = value as Partial<StartedRelease> | undefined;
  if (!r || typeof r.modelVersionId !== 'string' || typeof r.targetVersion !== 'string') throw new InvalidEventError('release: expected the output of the release step');
  return r as StartedRelease;
}

/** The ModelVersion `id`, which must be approved (an 'approval' GateReport passed) when `requireApproval`. */
export async function approvedModel(ledger: ReleaseLedger, id: string, requireApproval: boolean): Promise<LedgerRecord<'ModelVersion'>> {
  const record = await ledger.get(id);
  if (!record || record.kind !== 'ModelVersion') throw new ReleaseRefusedError(`modelVersionId: '${id}' is not a ModelVersion in the ledger`);
  if (requireApproval) {
    // a compiled model is approved through the model it was compiled from
    const candidates = [id, ...record.parents.filter((p) => p.startsWith('mv-'))];
    const approvals: LedgerRecord<'GateReport'>[] = [];
    for (const c of candidates) approvals.push(...(await ledger.derivedFrom(c)).filter((r): r is LedgerRecord<'GateReport'> => r.kind === 'GateReport' && (r as LedgerRecord<'GateReport'>).data.gate === 'approval'));
    const last = approvals.at(-1);
    if (!last?.data.passed) throw new ReleaseRefusedError(`model ${id} is not approved${last ? ` (${last.data.reasons.join('; ')})` : ' (no approval GateReport in the ledger)'}; only approved models are released`);
  }
  return record as LedgerRecord<'ModelVersion'>;
}

/** Records a finished release: a Deployment (succeeded, rolled-back or failed) and, unless it succeeded, an Incident. */
export async function recordOutcome(
  ledger: ReleaseLedger,
  endpoint: string,
  r: StartedRelease,
  outcome: { status: string; succeeded: boolean; rolledBack: boolean; strategy: string; why?: string; functionVersion?: string; errorCode?: string | null; images?: DeploymentData['images'] },
): Promise<ReleaseOutcome> {
  const subject = endpointSubject(endpoint);
  const common = { endpoint, modelVersionId: r.modelVersionId, ...(r.previousModelVersionId ? { previousModelVersionId: r.previousModelVersionId } : {}), reason: r.reason, ...(outcome.functionVersion ? { functionVersion: outcome.functionVersion } : {}), deploymentId: r.deploymentId ?? r.targetVersion, strategy: outcome.strategy, ...(r.contractKey ? { contractKey: r.contractKey } : {}), ...(r.modelArtifact ? { modelArtifact: r.modelArtifact } : {}), ...(outcome.images?.length ? { images: outcome.images } : {}) };
  const key = r.key ?? r.deploymentId ?? r.targetVersion;
  const id = deterministicId('dp', endpoint, key);
  if (outcome.succeeded) {
    const { record } = await ledger.append({ kind: 'Deployment', id, subject, parents: [r.modelVersionId], data: { ...common, status: 'succeeded' } });
    return { done: true, status: outcome.status, succeeded: true, deploymentRecordId: record.id };
  }
  const why = outcome.why ?? `the release ended ${outcome.status}`;
  const { record } = await ledger.append({ kind: 'Deployment', id, subject, parents: [r.modelVersionId], data: { ...common, status: outcome.rolledBack ? 'rolled-back' : 'failed', detail: why.slice(0, 2000) } });
  const reason = `release of model ${r.modelVersionId} to ${endpoint} ${outcome.rolledBack ? `rolled back to version ${r.currentVersion}${r.previousModelVersionId ? ` (model ${r.previousModelVersionId})` : ''}` : 'failed'}: ${why}`;
  const incident = await ledger.append({
    kind: 'Incident',
    id: deterministicId('in', endpoint, key),
    subject,
    parents: [record.id, r.modelVersionId],
    data: { type: 'rollback', reason: reason.slice(0, 2000), endpoint, details: { deploymentId: r.deploymentId, status: outcome.status, errorCode: outcome.errorCode ?? null, fromVersion: r.targetVersion, toVersion: r.currentVersion } },
  });
  return { done: true, status: outcome.status, succeeded: false, deploymentRecordId: record.id, incidentId: incident.record.id, reason };
}

/** Records why an endpoint is rolled back to an earlier model: the Incident (before the rollback is done). */
export async function recordRollbackIncident(ledger: ReleaseLedger, endpoint: string, serving: LedgerRecord<'Deployment'>, previous: LedgerRecord<'Deployment'>, why: string, details: Record<string, unknown>): Promise<string> {
  const { record } = await ledger.append({
    kind: 'Incident',
    id: deterministicId('in', endpoint, 'rollback', serving.id),
    subject: endpointSubject(endpoint),
    parents: [serving.id, serving.data.modelVersionId],
    data: { type: 'rollback', reason: `rolled back ${endpoint} from model ${serving.data.modelVersionId} to ${previous.data.modelVersionId}: ${why}`.slice(0, 2000), endpoint, details },
  });
  return record.id;
}

/** What a rollback goes back to: the serving release, the previous model's release, and why (the event's `reason`). */
export async function rollbackPlan(ledger: ReleaseLedger, endpoint: string, event: Record<string, unknown>): Promise<{ why: string; serving: LedgerRecord<'Deployment'>; previous: LedgerRecord<'Deployment'> }> {
  const why = text(event, 'reason');
  const target = rollbackTarget(await ledger.history(endpointSubject(endpoint)));
  if (!target) throw new NothingToRollBackError(`endpoint ${endpoint} has no earlier model to roll back to`);
  return { why, ...target };
}
