import {
  addObservation,
  emptyBiasCounts,
  mergeBiasCounts,
  POST_TRAINING_METRICS,
  PRE_TRAINING_METRICS,
  postTrainingBias,
  preTrainingBias,
  type BiasCounts,
  type BiasMetric,
} from './bias';
import { CdkMlopsError } from './errors';

/*
 * The bias gate's decision: bias counts accumulated from records (one pass,
 * mergeable across shards) for every configured facet, Clarify's metrics from
 * them, and each metric checked against its threshold.
 *
 * Facet d is the rows whose facet column has one of `values`, or is above
 * `threshold`; a positive label is one of `positiveValues`, or above `threshold`
 * (SageMaker Clarify's conventions). Rows missing the label or the facet value
 * are skipped and counted. The label distribution for KL, JS, LP, TVD and KS is the
 * collapsed outcome (positive or not). A threshold `t` means |metric| ≤ t; `{ min, max }`
 * bounds it (e.g. DI: { min: 0.8 }, the four-fifths rule). A metric that cannot
 * be computed (an empty facet) fails the gate unless `onUndefined: 'pass'`.
 *
 * Predictions (for the post-training metrics) come either from a column of
 * scored rows (`prediction`) or from the candidate model, which the gate runs
 * over the rows when it is given one: a prediction is positive when the model's
 * score is above `model.probabilityThreshold`. Without predictions the gate is a
 * pre-training check: post-training thresholds are listed as not checked.
 */

export interface ValueSpec {
  readonly column: string;
  /** Values that select (facet d / the positive outcome). */
  readonly values?: readonly (string | number | boolean)[];
  /** Numeric values above this select. */
  readonly threshold?: number;
}

export type MetricThreshold = number | { readonly min?: number; readonly max?: number };

export interface BiasGateConfig {
  /** The label and its positive outcome. */
  readonly label: ValueSpec;
  /** The model's prediction and its positive outcome (post-training metrics, on scored rows). */
  readonly prediction?: ValueSpec;
  /** Sensitive facets, each measured on its own. */
  readonly facets: readonly ValueSpec[];
  /** Column for conditional demographic disparity (CDDL, CDDPL). */
  readonly groupColumn?: string;
  readonly thresholds: Readonly<Partial<Record<BiasMetric, MetricThreshold>>>;
  /** @default 'fail' */
  readonly onUndefined?: 'fail' | 'pass';
  /** How the candidate model's scores become predictions, when the gate is given a model. */
  readonly model?: ModelScoringConfig;
}

export interface ModelScoringConfig {
  /** A score above this is a positive prediction (Clarify's `probability_threshold`). @default 0.5 */
  readonly probabilityThreshold?: number;
  /** Rows scored per model call. @default 1024 */
  readonly batchSize?: number;
}

export const DEFAULT_PROBABILITY_THRESHOLD = 0.5;
export const DEFAULT_SCORING_BATCH_SIZE = 1024;

/** A bias gate configuration that cannot be used: the message names the field. */
export class InvalidBiasConfigError extends CdkMlopsError {}

/** Checks a config; the message names the field. */
export function checkBiasConfig(config: BiasGateConfig): void {
  const spec = (s: ValueSpec | undefined, field: string): void => {
    if (!s || typeof s.column !== 'string' || s.column === '') throw new InvalidBiasConfigError(`${field}.column: expected a column name`);
    const hasValues = s.values !== undefined;
    const hasThreshold = s.threshold !== undefined;
    if (hasValues === hasThreshold) throw new InvalidBiasConfigError(`${field}: give either values or threshold (exactly one)`);
    if (hasValues && (!Array.isArray(s.values) || s.values.length === 0)) throw new InvalidBiasConfigError(`${field}.values: expected a non-empty list`);
    if (hasThreshold && !Number.isFinite(s.threshold)) throw new InvalidBiasConfigError(`${field}.threshold: expected a finite number`);
  };
  spec(config.label, 'label');
  if (config.prediction) spec(config.prediction, 'prediction');
  if (!Array.isArray(config.facets) || config.facets.length === 0) throw new InvalidBiasConfigError('facets: expected at least one facet');
  config.facets.forEach((f: ValueSpec, i: number) => spec(f, `facets[${i}]`));
  for (const [metric, t] of Object.entries(config.thresholds)) {
    const known = (PRE_TRAINING_METRICS as readonly string[]).includes(metric) || (POST_TRAINING_METRICS as readonly string[]).includes(metric);
    if (!known) throw new InvalidBiasConfigError(`thresholds.${metric}: not a metric (pre-training: ${PRE_TRAINING_METRICS.join(', ')}; post-training: ${POST_TRAINING_METRICS.join(', ')})`);
    const ok = typeof t === 'number' ? Number.isFinite(t) && t >= 0 : t !== null && typeof t === 'object' && (t.min === undefined || Number.isFinite(t.min)) && (t.max === undefined || Number.isFinite(t.max)) && (t.min !== undefined || t.max !== undefined);
    if (!ok) throw new InvalidBiasConfigError(`thresholds.${metric}: expected a number >= 0 (|value| bound) or { min, max }`);
  }
  if (config.model !== undefined) {
    const m = config.model as ModelScoringConfig | null;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new InvalidBiasConfigError('model: expected { probabilityThreshold?, batchSize? }');
    if (config.prediction) throw new InvalidBiasConfigError("model: give either 'prediction' (rows already scored) or 'model' (the gate scores the rows), not both");
    if (m.probabilityThreshold !== undefined && !Number.isFinite(m.probabilityThreshold)) throw new InvalidBiasConfigError('model.probabilityThreshold: expected a finite number');
    if (m.batchSize !== undefined && (!Number.isInteger(m.batchSize) || m.batchSize < 1 || m.batchSize > 65536)) throw new InvalidBiasConfigError('model.batchSize: expected a whole number from 1 to 65536');
  }
}

function selects(spec: ValueSpec, value: unknown): boolean | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (spec.threshold !== undefined) {
    const n = typeof value === 'number' ? value : Number(value);
    return Number.isNaN(n) ? undefined : n > spec.threshold;
  }
  const text = asText(value);
  return spec.values!.some((v) => String(v) === text);
}

/** A cell as text: scalars as themselves, anything else as JSON. */
function asText(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : `${value as string | number | boolean | bigint}`;
}

/** Facet key used in metric names: `column=v1|v2` or `column>threshold`. */
export function facetKey(f: ValueSpec): string {
  return f.threshold !== undefined ? `${f.column}>${f.threshold}` : `${f.column}=${f.values!.map(String).join('|')}`;
}

export interface BiasAccumulatorState {
  readonly facets: Record<string, BiasCounts>;
  readonly rows: number;
  readonly skipped: Record<string, number>;
}

/** Bias counts for every facet, from records; mergeable. */
export class BiasAccumulator {
  rows = 0;
  readonly counts = new Map<string, BiasCounts>();
  readonly skipped = new Map<string, number>();

  constructor(private readonly config: BiasGateConfig) {
    checkBiasConfig(config);
    for (const f of config.facets) this.counts.set(facetKey(f), emptyBiasCounts());
  }

  /** Adds a record; `predicted` is the model's prediction for it, when the gate scored the rows. */
  add(record: Readonly<Record<string, unknown>>, predicted?: boolean): void {
    this.rows++;
    const labelValue = record[this.config.label.column];
    const positiveLabel = selects(this.config.label, labelValue);
    if (positiveLabel === undefined) return this.skip(`label '${this.config.label.column}' missing or not numeric`);
    const prediction = predicted ?? (this.config.prediction ? selects(this.config.prediction, record[this.config.prediction.column]) : undefined);
    if (this.config.prediction && prediction === undefined) return this.skip(`prediction '${this.config.prediction.column}' missing or not numeric`);
    const group = this.config.groupColumn !== undefined ? record[this.config.groupColumn] : undefined;
    for (const f of this.config.facets) {
      const inFacet = selects(f, record[f.column]);
      if (inFacet === undefined) {
        this.skip(`facet '${f.column}' missing or not numeric`);
        continue;
      }
      addObservation(this.counts.get(facetKey(f))!, {
        inFacet,
        // the label distribution is the collapsed outcome, as Clarify does with label_values_or_threshold
        label: positiveLabel ? '1' : '0',
        positiveLabel,
        ...(prediction !== undefined ? { positivePrediction: prediction } : {}),
        ...(group !== undefined && group !== null && group !== '' ? { group: asText(group) } : {}),
      });
    }
  }

  private skip(reason: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
  }

  merge(other: BiasAccumulator): void {
    this.rows += other.rows;
    for (const [k, c] of other.counts) this.counts.set(k, mergeBiasCounts(this.counts.get(k) ?? emptyBiasCounts(), c));
    for (const [k, n] of other.skipped) this.skipped.set(k, (this.skipped.get(k) ?? 0) + n);
  }

  toJSON(): BiasAccumulatorState {
    return { facets: Object.fromEntries(this.counts), rows: this.rows, skipped: Object.fromEntries(this.skipped) };
  }
}

export interface BiasOutcome {
  readonly passed: boolean;
  readonly reasons: readonly string[];
  /** `<facet>.<metric>` → value (±Infinity possible; null when undefined). */
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly undefinedReasons: Readonly<Record<string, string>>;
  readonly rows: number;
  readonly skipped: Readonly<Record<string, number>>;
  /** 'post-training' when the rows had predictions (a prediction column, or the model's scores). */
  readonly stage: 'pre-training' | 'post-training';
  /** Thresholds of post-training metrics not checked because there were no predictions. */
  readonly unchecked: readonly string[];
}

function violates(value: number, t: MetricThreshold): string | undefined {
  if (typeof t === 'number') return Math.abs(value) > t ? `|${format(value)}| > ${t}` : undefined;
  if (t.min !== undefined && value < t.min) return `${format(value)} < ${t.min}`;
  if (t.max !== undefined && value > t.max) return `${format(value)} > ${t.max}`;
  return undefined;
}

function format(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : String(v);
}

/**
 * Metrics for every facet and the verdict against the thresholds. Post-training
 * metrics are computed when the rows carried predictions (`scored`: the model
 * was run; otherwise when the config names a prediction column).
 */
export function evaluateBias(acc: BiasAccumulator, config: BiasGateConfig, scored = false): BiasOutcome {
  const metrics: Record<string, number | null> = {};
  const undefinedReasons: Record<string, string> = {};
  const reasons: string[] = [];
  const withPredictions = scored || config.prediction !== undefined;
  const unchecked = withPredictions ? [] : Object.keys(config.thresholds).filter((m) => (POST_TRAINING_METRICS as readonly string[]).includes(m));
  for (const f of config.facets) {
    const key = facetKey(f);
    const counts = acc.counts.get(key)!;
    const pre = preTrainingBias(counts);
    const post = withPredictions ? postTrainingBias(counts) : undefined;
    const all: Record<string, number | null> = { ...pre.values, ...(post?.values ?? {}) };
    const why: Record<string, string | undefined> = { ...pre.undefinedReasons, ...(post?.undefinedReasons ?? {}) };
    for (const [metric, value] of Object.entries(all)) {
      metrics[`${key}.${metric}`] = value;
      if (value === null && why[metric]) undefinedReasons[`${key}.${metric}`] = why[metric];
      const t = config.thresholds[metric as BiasMetric];
      if (t === undefined) continue;
      if (value === null) {
        if ((config.onUndefined ?? 'fail') === 'fail') reasons.push(`${key}: ${metric} cannot be computed (${why[metric] ?? 'undefined'})`);
        continue;
      }
      const v = violates(value, t);
      if (v) reasons.push(`${key}: ${metric} ${v}`);
    }
  }
  return { passed: reasons.length === 0, reasons, metrics, undefinedReasons, rows: acc.rows, skipped: Object.fromEntries(acc.skipped), stage: withPredictions ? 'post-training' : 'pre-training', unchecked };
}
