import { categoryCounts, DEFAULT_PSI_BINS, jsDistance, numericMass, psi } from './drift';
import { DatasetProfile } from './profile/dataset-profile';

/*
 * Drift of an endpoint's captured traffic against its model's training data:
 * what the DriftMonitor publishes. Per feature (the model signature's inputs):
 * - PSI and Jensen–Shannon distance (see drift.ts for both, with PSI's epsilon),
 *   numeric features over bins cut at the training data's deciles, categorical
 *   ones over category shares (plus one "(other)" share for what the
 *   frequent-items summaries no longer hold one by one);
 * and of the predictions:
 * - prediction shift: |mean captured score − the model's mean score on its
 *   training data| (ModelVersion metric `score:mean`, written by the trainer),
 *   the same definition the endpoint's per-container PredictionShift uses.
 * Below `minRows` captured rows nothing is judged: a handful of requests says
 * nothing about a distribution.
 */

export interface TrafficDriftThresholds {
  /** @default 0.2 */
  readonly psi?: number;
  /** @default 0.1 */
  readonly jsDistance?: number;
  /** @default 0.1 */
  readonly predictionShift?: number;
}

export const DEFAULT_TRAFFIC_DRIFT_THRESHOLDS: Required<TrafficDriftThresholds> = { psi: 0.2, jsDistance: 0.1, predictionShift: 0.1 };

export interface FeatureDrift {
  readonly feature: string;
  readonly kind: 'numeric' | 'categorical' | 'absent';
  /** null when the feature cannot be compared (absent from one side, or no values). */
  readonly psi: number | null;
  readonly jsDistance: number | null;
  readonly drifted: boolean;
  readonly reasons: readonly string[];
}

export interface TrafficDriftReport {
  /** Captured rows compared. */
  readonly rows: number;
  /** False when there were fewer than `minRows` rows: nothing was judged, no metric is published. */
  readonly judged: boolean;
  readonly features: readonly FeatureDrift[];
  readonly prediction: { readonly mean: number | null; readonly baselineMean: number | null; readonly shift: number | null; readonly drifted: boolean };
  readonly drifted: boolean;
  readonly reasons: readonly string[];
}

/** Captured rows → a profile of the features, and the mean of the rows' `__prediction`. Columns starting with `__` other than the prediction are left out. */
export class TrafficProfile {
  readonly profile = new DatasetProfile('jsonl');
  private predictionSum = 0;
  private predictions = 0;

  constructor(private readonly features: readonly string[]) {
    for (const f of features) this.profile.column(f);
  }

  add(row: Readonly<Record<string, unknown>>): void {
    this.profile.rows++;
    for (const f of this.features) this.profile.column(f).observeValue(row[f]);
    this.addPrediction(row.__prediction);
  }

  /** A row of text cells in the features' order (a CSV request), read as the profiler reads CSV. */
  addText(cells: readonly string[], prediction?: number): void {
    this.profile.rows++;
    this.features.forEach((f, i) => this.profile.column(f).observeText(cells[i] ?? ''));
    this.addPrediction(prediction);
  }

  private addPrediction(p: unknown): void {
    if (typeof p === 'number' && Number.isFinite(p)) {
      this.predictionSum += p;
      this.predictions++;
    }
  }

  get rows(): number {
    return this.profile.rows;
  }

  predictionMean(): number | null {
    return this.predictions === 0 ? null : this.predictionSum / this.predictions;
  }
}

export interface TrafficDriftOptions {
  readonly features: readonly string[];
  /** The model's mean score on its training data (null: unknown, no prediction shift). */
  readonly baselineMean: number | null;
  readonly thresholds?: TrafficDriftThresholds;
  /** @default 100 */
  readonly minRows?: number;
  /** Bins of numeric features. @default 10 */
  readonly bins?: number;
}

/** Compares captured traffic with the training data's profile, feature by feature, and the predictions' mean with the training mean. */
export function trafficDrift(baseline: DatasetProfile, traffic: TrafficProfile, options: TrafficDriftOptions): TrafficDriftReport {
  const t = { ...DEFAULT_TRAFFIC_DRIFT_THRESHOLDS, ...options.thresholds };
  const minRows = options.minRows ?? 100;
  const mean = traffic.predictionMean();
  if (traffic.rows < minRows) {
    return { rows: traffic.rows, judged: false, features: [], prediction: { mean, baselineMean: options.baselineMean, shift: null, drifted: false }, drifted: false, reasons: [`${traffic.rows} captured rows, fewer than the ${minRows} needed to judge drift`] };
  }
  const features = options.features.map((f) => featureDrift(f, baseline, traffic.profile, t, options.bins ?? DEFAULT_PSI_BINS));
  const shift = mean === null || options.baselineMean === null ? null : Math.abs(mean - options.baselineMean);
  const predictionDrifted = shift !== null && shift > t.predictionShift;
  const reasons = features.flatMap((f) => f.reasons);
  if (predictionDrifted) reasons.push(`prediction: mean ${mean!.toFixed(4)} is ${shift.toFixed(4)} from the training mean ${options.baselineMean!.toFixed(4)} (> ${t.predictionShift})`);
  return {
    rows: traffic.rows,
    judged: true,
    features,
    prediction: { mean, baselineMean: options.baselineMean, shift, drifted: predictionDrifted },
    drifted: predictionDrifted || features.some((f) => f.drifted),
    reasons,
  };
}

function featureDrift(feature: string, baseline: DatasetProfile, current: DatasetProfile, t: Required<TrafficDriftThresholds>, bins: number): FeatureDrift {
  if (!baseline.columnNames().includes(feature)) return { feature, kind: 'absent', psi: null, jsDistance: null, drifted: false, reasons: [] };
  const base = baseline.column(feature);
  const cur = current.column(feature);
  const type = base.type();
  let p: number[];
  let q: number[];
  let kind: FeatureDrift['kind'];
  if ((type === 'integer' || type === 'float') && base.hasFiniteNumbers()) {
    if (!cur.hasFiniteNumbers()) return { feature, kind: 'numeric', psi: null, jsDistance: null, drifted: true, reasons: [`${feature}: no numeric values in the captured traffic`] };
    ({ baseline: p, current: q } = numericMass(base, cur, bins));
    kind = 'numeric';
  } else if (type === 'string' || type === 'boolean') {
    const counts = categoryCounts(base, cur);
    if (counts.currentTotal === 0) return { feature, kind: 'categorical', psi: null, jsDistance: null, drifted: true, reasons: [`${feature}: no values in the captured traffic`] };
    p = counts.baseline.map((c) => c / counts.baselineTotal);
    q = counts.current.map((c) => c / counts.currentTotal);
    kind = 'categorical';
  } else {
    return { feature, kind: 'absent', psi: null, jsDistance: null, drifted: false, reasons: [] };
  }
  const value = { psi: psi(p, q), jsDistance: jsDistance(p, q) };
  const reasons: string[] = [];
  if (value.psi > t.psi) reasons.push(`${feature}: PSI ${value.psi.toFixed(4)} > ${t.psi}`);
  if (value.jsDistance > t.jsDistance) reasons.push(`${feature}: Jensen–Shannon distance ${value.jsDistance.toFixed(4)} > ${t.jsDistance}`);
  return { feature, kind, ...value, drifted: reasons.length > 0, reasons };
}
