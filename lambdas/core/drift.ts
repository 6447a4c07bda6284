import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import type { ColumnAccumulator } from './profile/column-profile';
import type { DatasetProfile } from './profile/dataset-profile';

/*
 * Drift of a dataset (or captured traffic) against a baseline, column by column,
 * from their profiles alone: nothing is re-read.
 *
 * Numeric columns:
 * - PSI over bins cut at the baseline's quantiles (deciles by default), so each
 *   baseline bin holds about the same mass: PSI = Σ (c − b) · ln(c / b). A bin with
 *   no mass on one side would make PSI infinite, so proportions below
 *   PSI_EPSILON (1e-4) are raised to it: an empty bin counts as 0.01% of the data.
 * - Jensen–Shannon distance on the same bins: √JSD with base-2 logarithms, in [0, 1].
 * - Kolmogorov–Smirnov statistic: the largest gap between the two empirical CDFs,
 *   evaluated on the sketches' bins (each within the sketch's 1% relative accuracy).
 * Categorical columns (string, boolean), on the frequent-items summaries:
 * - L∞: the largest change in any category's share (a category absent on one side
 *   has share 0 there);
 * - chi-square goodness of fit of the current counts against the baseline shares,
 *   with its p-value (k − 1 degrees of freedom). A category the baseline never saw
 *   gets the baseline share PSI_EPSILON, so a new category shows as drift instead
 *   of a division by zero.
 * Values the summaries no longer hold individually (high-cardinality columns) are
 * pooled into one "(other)" category on each side.
 */

export const PSI_EPSILON = 1e-4;
export const DEFAULT_PSI_BINS = 10;

export interface DriftThresholds {
  /** @default 0.2 (the usual "significant shift" level) */
  readonly psi?: number;
  /** @default 0.1 */
  readonly jsDistance?: number;
  /** @default 0.1 */
  readonly ks?: number;
  /** @default 0.1 */
  readonly linf?: number;
  /** Drift when the chi-square p-value is below this. @default undefined (not used: large samples make any difference significant) */
  readonly chiSquarePValue?: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: Required<Omit<DriftThresholds, 'chiSquarePValue'>> = { psi: 0.2, jsDistance: 0.1, ks: 0.1, linf: 0.1 };

export interface ColumnDrift {
  readonly column: string;
  readonly kind: 'numeric' | 'categorical' | 'skipped';
  readonly metrics: Readonly<Record<string, number>>;
  readonly drifted: boolean;
  readonly reasons: readonly string[];
}

export interface DriftReport {
  readonly drifted: boolean;
  readonly columns: readonly ColumnDrift[];
}

/** PSI between two binned distributions (proportions), with the documented epsilon. */
export function psi(baseline: readonly number[], current: readonly number[], epsilon = PSI_EPSILON): number {
  let sum = 0;
  for (let i = 0; i < baseline.length; i++) {
    const b = Math.max(baseline[i]!, epsilon);
    const c = Math.max(current[i]!, epsilon);
    sum += (c - b) * Math.log(c / b);
  }
  return sum;
}

/** Jensen–Shannon distance: √(JS divergence in bits), in [0, 1]. */
export function jsDistance(p: readonly number[], q: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i]! + q[i]!) / 2;
    if (p[i]! > 0) d += 0.5 * p[i]! * Math.log2(p[i]! / m);
    if (q[i]! > 0) d += 0.5 * q[i]! * Math.log2(q[i]! / m);
  }
  return Math.sqrt(Math.max(0, d));
}

/** Kolmogorov–Smirnov statistic between two weighted samples given as (value, count) pairs. */
export function ksStatistic(a: readonly { value: number; count: number }[], b: readonly { value: number; count: number }[]): number {
  const na = a.reduce((s, x) => s + x.count, 0);
  const nb = b.reduce((s, x) => s + x.count, 0);
  if (na === 0 || nb === 0) return na === nb ? 0 : 1;
  const points = [...a.map((x) => ({ ...x, side: 0 })), ...b.map((x) => ({ ...x, side: 1 }))].sort((x, y) => x.value - y.value);
  let fa = 0;
  let fb = 0;
  let d = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p.side === 0) fa += p.count / na;
    else fb += p.count / nb;
    // compare only after all points at this value are in
    if (i === points.length - 1 || points[i + 1]!.value !== p.value) d = Math.max(d, Math.abs(fa - fb));
  }
  return d;
}

/** Chi-square statistic and p-value of observed counts against expected proportions (missing proportions: epsilon). */
export function chiSquare(observed: readonly number[], expectedShare: readonly number[], epsilon = PSI_EPSILON): { statistic: number; degreesOfFreedom: number; pValue: number } {
  const n = observed.reduce((s, x) => s + x, 0);
  const shares = expectedShare.map((s) => Math.max(s, epsilon));
  const total = shares.reduce((s, x) => s + x, 0);
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = (n * shares[i]!) / total;
    statistic += (observed[i]! - e) ** 2 / e;
  }
  const degreesOfFreedom = Math.max(1, observed.length - 1);
  return { statistic, degreesOfFreedom, pValue: 1 - chisquareCdf(statistic, degreesOfFreedom) };
}

/** The mass of (value, count) pairs in bins cut at `edges` (a value equal to an edge goes to the upper bin). */
export function binMass(points: readonly { value: number; count: number }[], edges: readonly number[]): number[] {
  const mass = new Array<number>(edges.length + 1).fill(0);
  let total = 0;
  for (const { value, count } of points) {
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (value >= edges[mid]!) lo = mid + 1;
      else hi = mid;
    }
    mass[lo]! += count;
    total += count;
  }
  return total === 0 ? mass : mass.map((m) => m / total);
}

/** The two sides' mass in bins cut at the baseline's quantiles (`bins` equal-mass bins of the baseline, fewer when quantiles repeat). */
export function numericMass(base: ColumnAccumulator, cur: ColumnAccumulator, bins = DEFAULT_PSI_BINS): { baseline: number[]; current: number[] } {
  const edges = [...new Set(Array.from({ length: bins - 1 }, (_, i) => base.quantile((i + 1) / bins)!))];
  return { baseline: binMass(base.sketchBins(), edges), current: binMass(cur.sketchBins(), edges) };
}

/**
 * Both sides' counts per category (the union of the categories the summaries
 * hold, sorted), plus one "(other)" count each for what they no longer hold
 * one by one; `labels` names them (null: other).
 */
export function categoryCounts(base: ColumnAccumulator, cur: ColumnAccumulator): { labels: (string | null)[]; baseline: number[]; current: number[]; baselineTotal: number; currentTotal: number } {
  const [nb, nc] = [base.count - base.missing, cur.count - cur.missing];
  const labels: (string | null)[] = [...new Set([...base.values(), ...cur.values()].map(([value]) => value))].sort();
  const baseline = labels.map((k) => base.frequency(k!));
  const current = labels.map((k) => cur.frequency(k!));
  const otherB = nb - baseline.reduce((s, x) => s + x, 0);
  const otherC = nc - current.reduce((s, x) => s + x, 0);
  if (otherB > 0 || otherC > 0) {
    labels.push(null);
    baseline.push(Math.max(0, otherB));
    current.push(Math.max(0, otherC));
  }
  return { labels, baseline, current, baselineTotal: nb, currentTotal: nc };
}

function numericDrift(column: string, base: ColumnAccumulator, cur: ColumnAccumulator, t: Required<Omit<DriftThresholds, 'chiSquarePValue'>>, bins: number): ColumnDrift {
  const { baseline: pb, current: pc } = numericMass(base, cur, bins);
  const [b, c] = [base.sketchBins(), cur.sketchBins()];
  const metrics = { psi: psi(pb, pc), jsDistance: jsDistance(pb, pc), ks: ksStatistic(b, c) };
  const reasons: string[] = [];
  if (metrics.psi > t.psi) reasons.push(`${column}: PSI ${metrics.psi.toFixed(4)} > ${t.psi}`);
  if (metrics.jsDistance > t.jsDistance) reasons.push(`${column}: Jensen–Shannon distance ${metrics.jsDistance.toFixed(4)} > ${t.jsDistance}`);
  if (metrics.ks > t.ks) reasons.push(`${column}: KS statistic ${metrics.ks.toFixed(4)} > ${t.ks}`);
  return { column, kind: 'numeric', metrics, drifted: reasons.length > 0, reasons };
}

function categoricalDrift(column: string, base: ColumnAccumulator, cur: ColumnAccumulator, t: DriftThresholds & typeof DEFAULT_DRIFT_THRESHOLDS): ColumnDrift {
  const { labels: unique, baseline: countsB, current: countsC, baselineTotal: nb, currentTotal: nc } = categoryCounts(base, cur);
  const shareB = countsB.map((x) => (nb === 0 ? 0 : x / nb));
  const shareC = countsC.map((x) => (nc === 0 ? 0 : x / nc));
  const linf = Math.max(0, ...shareB.map((s, i) => Math.abs(s - shareC[i]!)));
  const chi = chiSquare(countsC, shareB);
  const metrics = { linf, chiSquare: chi.statistic, chiSquarePValue: chi.pValue };
  const reasons: string[] = [];
  if (linf > t.linf) {
    const worst = shareB.map((s, i) => Math.abs(s - shareC[i]!)).indexOf(linf);
    reasons.push(`${column}: share of '${unique[worst] ?? '(other)'}' moved by ${linf.toFixed(4)} (L∞ > ${t.linf})`);
  }
  if (t.chiSquarePValue !== undefined && chi.pValue < t.chiSquarePValue) reasons.push(`${column}: chi-square p-value ${chi.pValue.toExponential(2)} < ${t.chiSquarePValue}`);
  const added = unique.filter((k, i) => k !== null && countsB[i] === 0 && countsC[i]! > 0);
  if (added.length > 0 && base.distinct().exact) reasons.push(`${column}: new categor${added.length === 1 ? 'y' : 'ies'} ${added.map((a) => `'${a}'`).join(', ')}`);
  return { column, kind: 'categorical', metrics, drifted: reasons.length > 0, reasons };
}

/** Drift of every column the baseline has, with per-column thresholds over the defaults. */
export function compareProfiles(
  baseline: DatasetProfile,
  current: DatasetProfile,
  options: { thresholds?: DriftThresholds; columnThresholds?: Readonly<Record<string, DriftThresholds>>; bins?: number } = {},
): DriftReport {
  const columns: ColumnDrift[] = [];
  for (const name of baseline.columnNames()) {
    const t = { ...DEFAULT_DRIFT_THRESHOLDS, ...options.thresholds, ...options.columnThresholds?.[name] };
    const base = baseline.column(name);
    if (!current.columnNames().includes(name)) {
      columns.push({ column: name, kind: 'skipped', metrics: {}, drifted: true, reasons: [`${name}: column missing from the current data`] });
      continue;
    }
    const cur = current.column(name);
    const type = base.type();
    if ((type === 'integer' || type === 'float') && base.hasFiniteNumbers() && cur.hasFiniteNumbers()) {
      columns.push(numericDrift(name, base, cur, t, options.bins ?? DEFAULT_PSI_BINS));
    } else if (type === 'string' || type === 'boolean') {
      columns.push(categoricalDrift(name, base, cur, t));
    } else {
      columns.push({ column: name, kind: 'skipped', metrics: {}, drifted: false, reasons: [`${name}: no values to compare (${type})`] });
    }
  }
  return { drifted: columns.some((c) => c.drifted), columns };
}
