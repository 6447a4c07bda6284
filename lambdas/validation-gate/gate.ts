import { InvalidContractError, type DatasetContract } from '../core/constraints';
import { DatasetParseError, InvalidEventError } from '../core/errors';
import type { DriftThresholds } from '../core/drift';
import type { LedgerRecord, RecordDraft } from '../core/lineage';
import { DatasetProfile, type DatasetProfileState } from '../core/profile/dataset-profile';
import { evaluateValidation } from '../core/validation';
import type { ObjectReader } from '../ingest/ingest';
import { loadContract } from '../shared/contracts';
import { profileDatasetVersion, profileThreads } from '../shared/dataset-reader';
import { configHash, recordGateReport, type GateVerdict } from '../shared/gate-report';

/*
 * ValidationGate: profile a DatasetVersion (or take its stored profile, e.g.
 * merged from shards), check it against its contract and
 * (optionally) a baseline profile, store the profile and the report, append a
 * GateReport to the ledger, and return a verdict a state machine branches on.
 * A dataset that cannot be read fails the gate with the parse error's location;
 * only a request that names no known DatasetVersion throws (InvalidEventError).
 */

export interface ValidationGateEvent {
  readonly datasetVersionId: string;
  /** Key (in the artifacts bucket) of a baseline profile to check drift against. */
  readonly baselineProfileKey?: string;
}

export interface ValidationGateResult extends GateVerdict {
  readonly profileUri: string | null;
}

export interface ValidationGateDeps {
  readonly ledger: {
    get(id: string): Promise<LedgerRecord | undefined>;
    append(draft: RecordDraft<'GateReport'>): Promise<{ record: LedgerRecord }>;
  };
  readonly objects: ObjectReader;
  readonly artifacts: { uri(key: string): string; getText(key: string): Promise<string | undefined>; putJson(key: string, value: unknown): Promise<string> };
}

export interface ValidationGateSettings {
  /** Prefix of contracts in the artifacts bucket: `<prefix><dataset>.yaml` (or `.json`). @default 'contracts/' */
  readonly contractsPrefix: string;
  readonly profilesPrefix: string;
  readonly reportsPrefix: string;
  readonly driftThresholds?: DriftThresholds;
  readonly columnDriftThresholds?: Readonly<Record<string, DriftThresholds>>;
  /** Threads that profile big text files. @default 1 */
  readonly profileWorkers?: number;
}

export function parseValidationGateEvent(event: unknown): ValidationGateEvent {
  if (event === null || typeof event !== 'object') throw new InvalidEventError('event: expected an object with datasetVersionId');
  const e = event as Record<string, unknown>;
  if (typeof e.datasetVersionId !== 'string' || e.datasetVersionId === '') throw new InvalidEventError('datasetVersionId: expected a non-empty string');
  if (e.baselineProfileKey !== undefined && (typeof e.baselineProfileKey !== 'string' || e.baselineProfileKey === '')) throw new InvalidEventError('baselineProfileKey: expected a non-empty string');
  return { datasetVersionId: e.datasetVersionId, ...(e.baselineProfileKey ? { baselineProfileKey: e.baselineProfileKey } : {}) };
}

export async function runValidationGate(event: ValidationGateEvent, deps: ValidationGateDeps, settings: ValidationGateSettings): Promise<ValidationGateResult> {
  const record = await deps.ledger.get(event.datasetVersionId);
  if (!record || record.kind !== 'DatasetVersion') throw new InvalidEventError(`datasetVersionId: no DatasetVersion '${event.datasetVersionId}' in the ledger`);
  const dsv = record as LedgerRecord<'DatasetVersion'>;
  const { dataset } = dsv.data;
  const gate = { name: 'validation', reportsPrefix: settings.reportsPrefix, configHash: configHash({ event, d: settings.driftThresholds ?? null, c: settings.columnDriftThresholds ?? null }) };
  const finish = async (passed: boolean, reasons: string[], metrics: Record<string, number | null>, thresholds: Record<string, number>, report: Record<string, unknown>, profileUri: string | null): Promise<ValidationGateResult> => ({
    ...(await recordGateReport(deps, gate, dsv, { passed, reasons, metrics, thresholds }, { profileUri, ...report })),
    profileUri,
  });

  if (dsv.data.status === 'rejected') {
    return finish(false, [`dataset version ${dsv.id} was rejected at ingest: ${dsv.data.reason ?? 'no reason recorded'}`], {}, {}, {}, null);
  }

  let contract: DatasetContract | undefined;
  let baseline: DatasetProfile | undefined;
  try {
    contract = await loadContract(deps.artifacts, settings.contractsPrefix, dataset);
  } catch (err) {
    if (err instanceof InvalidContractError) return finish(false, [`contract: ${err.message}`], {}, {}, {}, null);
    throw err;
  }
  if (event.baselineProfileKey) {
    const text = await deps.artifacts.getText(event.baselineProfileKey);
    if (text === undefined) return finish(false, [`baseline profile ${deps.artifacts.uri(event.baselineProfileKey)} does not exist`], {}, {}, {}, null);
    baseline = DatasetProfile.fromJSON(JSON.parse(text) as DatasetProfileState);
  }

  // A version is profiled once: by the sharded profiler (Distributed Map) before
  // the gate, or here in one pass. Either way the profile is stored at this key.
  const profileKey = `${settings.profilesPrefix}${dataset}/${dsv.id}.json`;
  const stored = await deps.artifacts.getText(profileKey);
  let profile: DatasetProfile;
  if (stored !== undefined) {
    profile = DatasetProfile.fromJSON(JSON.parse(stored) as DatasetProfileState);
  } else {
    try {
      profile = await profileDatasetVersion(dsv, deps.objects, { workers: settings.profileWorkers });
    } catch (err) {
      if (err instanceof DatasetParseError) return finish(false, [err.message], {}, {}, { location: err.location }, null);
      throw err;
    }
  }
  const profileUri = stored !== undefined ? deps.artifacts.uri(profileKey) : await deps.artifacts.putJson(profileKey, profile.toJSON());
  const outcome = evaluateValidation(profile, { contract, baseline, driftThresholds: settings.driftThresholds, columnDriftThresholds: settings.columnDriftThresholds });
  return finish(outcome.passed, [...outcome.reasons], { ...outcome.metrics }, { ...outcome.thresholds }, { profileSource: stored !== undefined ? 'stored' : 'computed', profileThreads: stored !== undefined ? null : profileThreads(dsv, settings.profileWorkers ?? 1), violations: outcome.violations, drift: outcome.drift, summary: outcome.summary, contract: contract ?? null }, profileUri);
}
