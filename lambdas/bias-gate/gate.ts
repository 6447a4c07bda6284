import { BiasAccumulator, evaluateBias, type BiasGateConfig, type MetricThreshold } from '../core/bias-gate';
import { DatasetParseError, InvalidEventError } from '../core/errors';
import type { LedgerRecord } from '../core/lineage';
import type { ObjectReader } from '../ingest/ingest';
import { forEachDatasetRecord } from '../shared/dataset-reader';
import { configHash, recordGateReport, type GateRecordingDeps, type GateVerdict } from '../shared/gate-report';

/*
 * BiasGate: Clarify-style bias metrics of a DatasetVersion for each configured
 * facet (pre-training; post-training too when the rows carry the model's
 * prediction), checked against thresholds, with a stored report and a GateReport
 * in the ledger. A dataset that cannot be read fails with its location.
 */

export interface BiasGateEvent {
  readonly datasetVersionId: string;
}

export interface BiasGateDeps extends GateRecordingDeps {
  readonly ledger: GateRecordingDeps['ledger'] & { get(id: string): Promise<LedgerRecord | undefined> };
  readonly objects: ObjectReader;
}

export function parseBiasGateEvent(event: unknown): BiasGateEvent {
  const id = (event as { datasetVersionId?: unknown } | null)?.datasetVersionId;
  if (typeof id !== 'string' || id === '') throw new InvalidEventError('datasetVersionId: expected a non-empty string');
  return { datasetVersionId: id };
}

export async function runBiasGate(event: BiasGateEvent, deps: BiasGateDeps, config: BiasGateConfig, reportsPrefix: string): Promise<GateVerdict> {
  const record = await deps.ledger.get(event.datasetVersionId);
  if (!record || record.kind !== 'DatasetVersion') throw new InvalidEventError(`datasetVersionId: no DatasetVersion '${event.datasetVersionId}' in the ledger`);
  const dsv = record as LedgerRecord<'DatasetVersion'>;
  const gate = { name: 'bias', reportsPrefix, configHash: configHash(config) };
  const thresholds = flattenThresholds(config.thresholds);
  if (dsv.data.status === 'rejected') {
    return recordGateReport(deps, gate, dsv, { passed: false, reasons: [`dataset version ${dsv.id} was rejected at ingest: ${dsv.data.reason ?? 'no reason recorded'}`], metrics: {}, thresholds }, { config });
  }
  const acc = new BiasAccumulator(config);
  try {
    await forEachDatasetRecord(dsv, deps.objects, (r) => acc.add(r));
  } catch (err) {
    if (err instanceof DatasetParseError) return recordGateReport(deps, gate, dsv, { passed: false, reasons: [err.message], metrics: {}, thresholds }, { config, location: err.location });
    throw err;
  }
  const outcome = evaluateBias(acc, config);
  return recordGateReport(deps, gate, dsv, { passed: outcome.passed, reasons: outcome.reasons, metrics: outcome.metrics, thresholds }, { config, rows: outcome.rows, skipped: outcome.skipped, undefinedReasons: outcome.undefinedReasons, counts: acc.toJSON().facets });
}

/** Thresholds as flat numbers for the ledger: `DPL` (|value| bound), `DI.min`, `DI.max`. */
function flattenThresholds(t: Readonly<Partial<Record<string, MetricThreshold>>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [metric, v] of Object.entries(t)) {
    if (typeof v === 'number') out[metric] = v;
    else if (v) {
      if (v.min !== undefined) out[`${metric}.min`] = v.min;
      if (v.max !== undefined) out[`${metric}.max`] = v.max;
    }
  }
  return out;
}
