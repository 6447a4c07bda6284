import { createHash } from 'node:crypto';
import { deterministicId, type LedgerRecord, type RecordDraft } from '../core/lineage';

/*
 * How every gate ends: its full report written once to the artifacts bucket, a
 * GateReport appended to the ledger (derived from the DatasetVersion it judged),
 * and a verdict a state machine branches on. Ids and keys derive from the
 * dataset version, the model version (when a model was judged too) and the
 * gate's configuration, so a retried invocation records nothing twice.
 */

export interface GateVerdict {
  readonly passed: boolean;
  /** The first reason, for a Choice state or a notification; all of them are in `reasons`. */
  readonly reason: string | null;
  readonly reasons: readonly string[];
  readonly datasetVersionId: string;
  /** The model version judged with the data (post-training gates). */
  readonly modelVersionId?: string;
  readonly gateReportId: string;
  readonly reportUri: string;
}

export interface GateRecordingDeps {
  readonly ledger: { append(draft: RecordDraft<'GateReport'>): Promise<{ record: LedgerRecord }> };
  readonly artifacts: { putJson(key: string, value: unknown): Promise<string> };
}

/** A short hash of a gate's configuration and request: part of its report's identity. */
export function configHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export async function recordGateReport(
  deps: GateRecordingDeps,
  gate: { name: string; reportsPrefix: string; configHash: string; model?: LedgerRecord<'ModelVersion'> },
  dsv: LedgerRecord<'DatasetVersion'>,
  outcome: { passed: boolean; reasons: readonly string[]; metrics: Readonly<Record<string, number | null>>; thresholds: Readonly<Record<string, number>> },
  details: Readonly<Record<string, unknown>>,
): Promise<GateVerdict> {
  const model = gate.model;
  const key = `${gate.reportsPrefix}${gate.name}/${dsv.data.dataset}/${dsv.id}${model ? `-${model.id}` : ''}-${gate.configHash}.json`;
  const reportUri = await deps.artifacts.putJson(key, { gate: gate.name, datasetVersionId: dsv.id, ...(model ? { modelVersionId: model.id } : {}), ...outcome, ...details });
  const { record } = await deps.ledger.append({
    kind: 'GateReport',
    id: model ? deterministicId('gr', gate.name, dsv.id, model.id, gate.configHash) : deterministicId('gr', gate.name, dsv.id, gate.configHash),
    subject: `dataset/${dsv.data.dataset}`,
    parents: model ? [dsv.id, model.id] : [dsv.id],
    data: { gate: gate.name, passed: outcome.passed, metrics: outcome.metrics, thresholds: outcome.thresholds, reasons: [...outcome.reasons], reportUri },
  });
  return { passed: outcome.passed, reason: outcome.reasons[0] ?? null, reasons: outcome.reasons, datasetVersionId: dsv.id, ...(model ? { modelVersionId: model.id } : {}), gateReportId: record.id, reportUri };
}
