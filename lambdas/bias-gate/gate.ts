import { BiasAccumulator, DEFAULT_PROBABILITY_THRESHOLD, DEFAULT_SCORING_BATCH_SIZE, evaluateBias, type BiasGateConfig, type MetricThreshold } from '../core/bias-gate';
import { DatasetParseError, InvalidEventError, ModelError } from '../core/errors';
import type { LedgerRecord } from '../core/lineage';
import { checkModelSignature, type ModelSignature } from '../core/model-signature';
import type { ObjectReader } from '../ingest/ingest';
import { forEachDatasetRecord } from '../shared/dataset-reader';
import { configHash, recordGateReport, type GateRecordingDeps, type GateVerdict } from '../shared/gate-report';
import type { ModelArtifactReader } from '../shared/model-artifacts';
import { scoreDatasetVersion, type ModelScorer } from '../shared/model-scoring';

export type { ModelScorer };

/*
 * BiasGate: Clarify-style bias metrics of a DatasetVersion for each configured
 * facet, checked against thresholds, with a stored report and a GateReport in
 * the ledger. Pre-training metrics always; post-training metrics when the rows
 * carry predictions, or when the event names a ModelVersion: its ONNX model
 * (bytes checked against the ledger's hash) scores the rows in batches. Data or
 * a model that cannot be used fails the gate with the reason, never a crash.
 */

export interface BiasGateEvent {
  readonly datasetVersionId: string;
  /** The candidate model: its predictions give the post-training metrics. */
  readonly modelVersionId?: string;
}

export interface BiasGateDeps extends GateRecordingDeps {
  readonly ledger: GateRecordingDeps['ledger'] & { get(id: string): Promise<LedgerRecord | undefined> };
  readonly objects: ObjectReader;
  readonly models: ModelArtifactReader;
  /** Loads a model's bytes for scoring. */
  loadModel(bytes: Uint8Array, signature: ModelSignature): Promise<ModelScorer>;
}

export function parseBiasGateEvent(event: unknown): BiasGateEvent {
  const e = event as { datasetVersionId?: unknown; modelVersionId?: unknown } | null;
  const id = e?.datasetVersionId;
  if (typeof id !== 'string' || id === '') throw new InvalidEventError('datasetVersionId: expected a non-empty string');
  const model = e?.modelVersionId;
  if (model !== undefined && model !== null && (typeof model !== 'string' || model === '')) throw new InvalidEventError('modelVersionId: expected a non-empty string (or leave it out for pre-training metrics)');
  return { datasetVersionId: id, ...(typeof model === 'string' ? { modelVersionId: model } : {}) };
}

export async function runBiasGate(event: BiasGateEvent, deps: BiasGateDeps, config: BiasGateConfig, reportsPrefix: string): Promise<GateVerdict> {
  const record = await deps.ledger.get(event.datasetVersionId);
  if (!record || record.kind !== 'DatasetVersion') throw new InvalidEventError(`datasetVersionId: no DatasetVersion '${event.datasetVersionId}' in the ledger`);
  const dsv = record as LedgerRecord<'DatasetVersion'>;
  const model = event.modelVersionId !== undefined ? await modelVersion(deps, event.modelVersionId, config) : undefined;
  const gate = { name: 'bias', reportsPrefix, configHash: configHash(config), model };
  const thresholds = flattenThresholds(config.thresholds);
  const fail = (reason: string, details: Record<string, unknown> = {}): Promise<GateVerdict> => recordGateReport(deps, gate, dsv, { passed: false, reasons: [reason], metrics: {}, thresholds }, { config, ...details });
  if (dsv.data.status === 'rejected') return fail(`dataset version ${dsv.id} was rejected at ingest: ${dsv.data.reason ?? 'no reason recorded'}`);

  let scorer: ModelScorer | undefined;
  let signature: ModelSignature | undefined;
  if (model) {
    try {
      if (model.data.format !== 'onnx') throw new ModelError(`format '${model.data.format}' cannot be scored (the bias gate runs ONNX models)`);
      signature = checkModelSignature(model.data.signature);
      scorer = await deps.loadModel(await deps.models.read(model), signature);
    } catch (err) {
      if (err instanceof ModelError) return fail(`model ${model.id}: ${err.message}`);
      throw err;
    }
  }

  const acc = new BiasAccumulator(config);
  try {
    if (scorer && signature) await scoreRows(dsv, deps.objects, acc, scorer, signature, config);
    else await forEachDatasetRecord(dsv, deps.objects, (r) => acc.add(r));
  } catch (err) {
    if (err instanceof DatasetParseError) return fail(err.message, { location: err.location });
    if (err instanceof ModelError) return fail(`model ${model!.id}: ${err.message}`);
    throw err;
  } finally {
    await scorer?.release();
  }
  const outcome = evaluateBias(acc, config, scorer !== undefined);
  return recordGateReport(
    deps,
    gate,
    dsv,
    { passed: outcome.passed, reasons: outcome.reasons, metrics: outcome.metrics, thresholds },
    { config, stage: outcome.stage, unchecked: outcome.unchecked, rows: outcome.rows, skipped: outcome.skipped, undefinedReasons: outcome.undefinedReasons, counts: acc.toJSON().facets },
  );
}

async function modelVersion(deps: BiasGateDeps, id: string, config: BiasGateConfig): Promise<LedgerRecord<'ModelVersion'>> {
  if (config.prediction) throw new InvalidEventError(`modelVersionId: this gate reads predictions from column '${config.prediction.column}'; it does not score a model (configure 'model' instead of 'prediction')`);
  const record = await deps.ledger.get(id);
  if (!record || record.kind !== 'ModelVersion') throw new InvalidEventError(`modelVersionId: no ModelVersion '${id}' in the ledger`);
  return record as LedgerRecord<'ModelVersion'>;
}

/** Every row scored by the model (in batches) and added with its prediction. */
async function scoreRows(dsv: LedgerRecord<'DatasetVersion'>, objects: ObjectReader, acc: BiasAccumulator, scorer: ModelScorer, signature: ModelSignature, config: BiasGateConfig): Promise<void> {
  const threshold = config.model?.probabilityThreshold ?? DEFAULT_PROBABILITY_THRESHOLD;
  await scoreDatasetVersion(dsv, objects, scorer, signature, { batchSize: config.model?.batchSize ?? DEFAULT_SCORING_BATCH_SIZE }, (record, score) => acc.add(record, score > threshold));
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
