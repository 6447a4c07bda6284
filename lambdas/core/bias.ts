/*
 * Bias metrics with SageMaker Clarify's documented definitions and sign conventions.
 *
 * Facet d is the sensitive group (the facet value(s) given, or values above the
 * facet threshold); facet a is everyone else. A positive (favorable) label or
 * prediction is one of the positive values given, or a value above the label
 * threshold. Every metric except the flip test is a function of counts, so the
 * counts are accumulated in one streaming pass, merged across shards, and the
 * metrics computed from them.
 *
 * Where the Clarify documentation and its open-source code (smclarify) differ,
 * this follows the documentation:
 * - KL, JS, LP, TVD and KS sum over every label value seen in either facet. The
 *   code first drops label values that either facet lacks (pdfs_aligned_nonzero).
 *   So here KL(Pa‖Pd) = +Infinity when facet d has no example of a label value
 *   that facet a has (the documented range is [0, +∞)), and 0·log 0 = 0.
 * - FT = (F+ − F−)/nd with F+ the members of d with an unfavorable prediction whose
 *   nearest neighbours in a were predicted favorable (positive: bias against d).
 *   The code counts these sets the other way round, which flips the sign.
 *
 * Ratios follow Clarify's convention for a zero denominator: 0/0 = 0, x/0 = ±∞.
 * A metric that needs a group that is empty (no row in facet d, say) is `null`,
 * with the reason in `undefinedReasons`: there is nothing to measure, and a gate
 * must decide what that means rather than read a made-up number.
 */

/** Counts for one side of the facet. */
export interface SideCounts {
  /** Rows. */
  n: number;
  /** Rows by raw label value. */
  labels: Record<string, number>;
  /** Rows with a positive (favorable) label. */
  positive: number;
  /** Rows with a prediction, and of those: positive predictions and the confusion matrix. */
  predicted: number;
  predictedPositive: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Everything the count-based metrics need; serializable and mergeable. */
export interface BiasCounts {
  a: SideCounts;
  d: SideCounts;
  /** Per value of the group variable (for CDDL/CDDPL), the same counts for both sides. */
  groups: Record<string, { a: SideCounts; d: SideCounts }>;
}

/** One observation. */
export interface BiasObservation {
  /** In the sensitive facet d. */
  readonly inFacet: boolean;
  /** The raw label (for the label-distribution metrics). */
  readonly label: string;
  /** The label is the positive (favorable) outcome. */
  readonly positiveLabel: boolean;
  /** The model predicted the positive outcome (post-training only). */
  readonly positivePrediction?: boolean;
  /** Value of the group variable (conditional demographic disparity). */
  readonly group?: string;
}

export function emptySide(): SideCounts {
  return { n: 0, labels: {}, positive: 0, predicted: 0, predictedPositive: 0, tp: 0, fp: 0, fn: 0, tn: 0 };
}

export function emptyBiasCounts(): BiasCounts {
  return { a: emptySide(), d: emptySide(), groups: {} };
}

function addTo(side: SideCounts, o: BiasObservation): void {
  side.n++;
  side.labels[o.label] = (side.labels[o.label] ?? 0) + 1;
  if (o.positiveLabel) side.positive++;
  if (o.positivePrediction !== undefined) {
    side.predicted++;
    if (o.positivePrediction) side.predictedPositive++;
    if (o.positiveLabel) {
      if (o.positivePrediction) side.tp++;
      else side.fn++;
    } else if (o.positivePrediction) side.fp++;
    else side.tn++;
  }
}

/** Adds one observation (mutates `counts`). */
export function addObservation(counts: BiasCounts, o: BiasObservation): void {
  addTo(o.inFacet ? counts.d : counts.a, o);
  if (o.group !== undefined) {
    const g = (counts.groups[o.group] ??= { a: emptySide(), d: emptySide() });
    addTo(o.inFacet ? g.d : g.a, o);
  }
}

function mergeSide(x: SideCounts, y: SideCounts): SideCounts {
  const labels = { ...x.labels };
  for (const [k, v] of Object.entries(y.labels)) labels[k] = (labels[k] ?? 0) + v;
  return {
    n: x.n + y.n,
    labels,
    positive: x.positive + y.positive,
    predicted: x.predicted + y.predicted,
    predictedPositive: x.predictedPositive + y.predictedPositive,
    tp: x.tp + y.tp,
    fp: x.fp + y.fp,
    fn: x.fn + y.fn,
    tn: x.tn + y.tn,
  };
}

/** Counts of the union of two shards. Exact: merge(count(A), count(B)) == count(A ∪ B). */
export function mergeBiasCounts(x: BiasCounts, y: BiasCounts): BiasCounts {
  const groups: BiasCounts['groups'] = {};
  for (const key of new Set([...Object.keys(x.groups), ...Object.keys(y.groups)])) {
    const gx = x.groups[key] ?? { a: emptySide(), d: emptySide() };
    const gy = y.groups[key] ?? { a: emptySide(), d: emptySide() };
    groups[key] = { a: mergeSide(gx.a, gy.a), d: mergeSide(gx.d, gy.d) };
  }
  return { a: mergeSide(x.a, y.a), d: mergeSide(x.d, y.d), groups };
}

/** Clarify's division: 0/0 = 0, x/0 = ±Infinity. */
export function divide(a: number, b: number): number {
  if (b === 0) return a === 0 ? 0 : a < 0 ? -Infinity : Infinity;
  return a / b;
}

/** A difference of two ratios, where both infinite (the same way) counts as no difference. */
function diff(x: number, y: number): number {
  return x === y ? 0 : x - y;
}

export const PRE_TRAINING_METRICS = ['CI', 'DPL', 'KL', 'JS', 'LP', 'TVD', 'KS', 'CDDL'] as const;
export const POST_TRAINING_METRICS = ['DPPL', 'DI', 'DCA', 'DCR', 'RD', 'SD', 'DAR', 'DRR', 'AD', 'TE', 'CDDPL'] as const;
export type PreTrainingMetric = (typeof PRE_TRAINING_METRICS)[number];
export type PostTrainingMetric = (typeof POST_TRAINING_METRICS)[number] | 'FT';
export type BiasMetric = PreTrainingMetric | PostTrainingMetric;

export interface BiasMetricValues<M extends string> {
  /** Each metric's value: a number (possibly ±Infinity), or null when it cannot be computed. */
  readonly values: Record<M, number | null>;
  /** Why a metric is null. */
  readonly undefinedReasons: Partial<Record<M, string>>;
}

/** The label distribution of each side over the union of label values. */
function labelDistributions(c: BiasCounts): { pa: number[]; pd: number[] } {
  const keys = [...new Set([...Object.keys(c.a.labels), ...Object.keys(c.d.labels)])].sort();
  return {
    pa: keys.map((k) => (c.a.labels[k] ?? 0) / c.a.n),
    pd: keys.map((k) => (c.d.labels[k] ?? 0) / c.d.n),
  };
}

/** KL(p‖q) over aligned distributions: 0·log(0/q) = 0; p > 0 = q gives +Infinity. */
export function klDivergence(p: readonly number[], q: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    if (pi === 0) continue;
    const qi = q[i]!;
    if (qi === 0) return Infinity;
    sum += pi * Math.log(pi / qi);
  }
  return sum;
}

/** Jensen–Shannon divergence (natural log): 0.5·KL(p‖m) + 0.5·KL(q‖m), m = (p+q)/2. Always finite, in [0, ln 2]. */
export function jsDivergence(p: readonly number[], q: readonly number[]): number {
  const m = p.map((pi, i) => (pi + q[i]!) / 2);
  return 0.5 * klDivergence(p, m) + 0.5 * klDivergence(q, m);
}

/**
 * DD within one slice: the share of facet d among the rejected minus its share
 * among the accepted (labels, or predictions with `predicted`).
 */
function demographicDisparity(a: SideCounts, d: SideCounts, predicted: boolean): number {
  const accD = predicted ? d.predictedPositive : d.positive;
  const accA = predicted ? a.predictedPositive : a.positive;
  const nD = predicted ? d.predicted : d.n;
  const nA = predicted ? a.predicted : a.n;
  const rejD = nD - accD;
  const rejA = nA - accA;
  const shareRejected = rejD + rejA === 0 ? 0 : rejD / (rejD + rejA);
  const shareAccepted = accD + accA === 0 ? 0 : accD / (accD + accA);
  return shareRejected - shareAccepted;
}

/** CDD = (1/n) Σ_i n_i · DD_i over the groups (Clarify's weighted mean); DD over the whole set when no group was given. */
function conditionalDemographicDisparity(c: BiasCounts, predicted: boolean): number {
  const groups = Object.values(c.groups);
  if (groups.length === 0) return demographicDisparity(c.a, c.d, predicted);
  let weighted = 0;
  let n = 0;
  for (const g of groups) {
    const ni = predicted ? g.a.predicted + g.d.predicted : g.a.n + g.d.n;
    weighted += ni * demographicDisparity(g.a, g.d, predicted);
    n += ni;
  }
  return divide(weighted, n);
}

/** Pre-training (data) bias: CI, DPL, KL, JS, LP (L2), TVD, KS, CDDL. */
export function preTrainingBias(c: BiasCounts): BiasMetricValues<PreTrainingMetric> {
  const reasons: Partial<Record<PreTrainingMetric, string>> = {};
  const total = c.a.n + c.d.n;
  const values = Object.fromEntries(PRE_TRAINING_METRICS.map((m) => [m, null])) as Record<PreTrainingMetric, number | null>;
  if (total === 0) {
    for (const m of PRE_TRAINING_METRICS) reasons[m] = 'no rows';
    return { values, undefinedReasons: reasons };
  }
  values.CI = (c.a.n - c.d.n) / total;
  const empty = c.d.n === 0 ? 'facet d is empty' : c.a.n === 0 ? 'facet a (everyone outside the facet) is empty' : undefined;
  if (empty) {
    for (const m of PRE_TRAINING_METRICS) if (m !== 'CI') reasons[m] = empty;
    return { values, undefinedReasons: reasons };
  }
  values.DPL = c.a.positive / c.a.n - c.d.positive / c.d.n;
  const { pa, pd } = labelDistributions(c);
  const deltas = pa.map((x, i) => x - pd[i]!);
  values.KL = klDivergence(pa, pd);
  values.JS = jsDivergence(pa, pd);
  values.LP = Math.sqrt(deltas.reduce((s, x) => s + x * x, 0));
  values.TVD = 0.5 * deltas.reduce((s, x) => s + Math.abs(x), 0);
  values.KS = Math.max(...deltas.map(Math.abs));
  const accepted = c.a.positive + c.d.positive;
  if (accepted === 0 || accepted === total) reasons.CDDL = `every row is ${accepted === 0 ? 'rejected' : 'accepted'}: demographic disparity compares the two`;
  else values.CDDL = conditionalDemographicDisparity(c, false);
  return { values, undefinedReasons: reasons };
}

/** Post-training (model) bias: DPPL, DI, DCA, DCR, RD, SD, DAR, DRR, AD, TE, CDDPL. */
export function postTrainingBias(c: BiasCounts): BiasMetricValues<Exclude<PostTrainingMetric, 'FT'>> {
  type M = Exclude<PostTrainingMetric, 'FT'>;
  const reasons: Partial<Record<M, string>> = {};
  const values = Object.fromEntries(POST_TRAINING_METRICS.map((m) => [m, null])) as Record<M, number | null>;
  const empty = c.a.predicted + c.d.predicted === 0 ? 'no rows with predictions' : c.d.predicted === 0 ? 'facet d is empty' : c.a.predicted === 0 ? 'facet a (everyone outside the facet) is empty' : undefined;
  if (empty) {
    for (const m of POST_TRAINING_METRICS) reasons[m] = empty;
    return { values, undefinedReasons: reasons };
  }
  const { a, d } = c;
  const qa = a.predictedPositive / a.predicted;
  const qd = d.predictedPositive / d.predicted;
  values.DPPL = qa - qd;
  values.DI = divide(qd, qa);
  // Conditional acceptance/rejection: observed over predicted positives/negatives.
  values.DCA = diff(divide(a.tp + a.fn, a.predictedPositive), divide(d.tp + d.fn, d.predictedPositive));
  values.DCR = diff(divide(d.tn + d.fp, d.tn + d.fn), divide(a.tn + a.fp, a.tn + a.fn));
  values.RD = diff(divide(a.tp, a.tp + a.fn), divide(d.tp, d.tp + d.fn));
  values.SD = diff(divide(d.tn, d.tn + d.fp), divide(a.tn, a.tn + a.fp));
  values.DAR = diff(divide(a.tp, a.tp + a.fp), divide(d.tp, d.tp + d.fp));
  values.DRR = diff(divide(d.tn, d.tn + d.fn), divide(a.tn, a.tn + a.fn));
  values.AD = (a.tp + a.tn) / a.predicted - (d.tp + d.tn) / d.predicted;
  values.TE = diff(divide(d.fn, d.fp), divide(a.fn, a.fp));
  const acceptedPredictions = a.predictedPositive + d.predictedPositive;
  if (acceptedPredictions === 0 || acceptedPredictions === a.predicted + d.predicted) reasons.CDDPL = `every prediction is ${acceptedPredictions === 0 ? 'negative' : 'positive'}: demographic disparity compares the two`;
  else values.CDDPL = conditionalDemographicDisparity(c, true);
  return { values, undefinedReasons: reasons };
}

/** Clarify's flip-test neighbourhood: 5 nearest neighbours, 1 when facet a has at most 9 rows. */
export const FLIP_TEST_NEIGHBOURS = 5;
export const FLIP_TEST_MIN_ROWS_FOR_K = 10;

/**
 * Counterfactual flip test (FT), the documented sign: for every member of facet d,
 * the majority prediction of its k nearest members of facet a (Euclidean distance
 * over the numeric features) stands for "the same person, in facet a".
 * FT = (F+ − F−)/nd, F+ = unfavorable prediction but favorable neighbours,
 * F− = favorable prediction but unfavorable neighbours. Range [−1, +1]; positive
 * means the model treats d worse than similar members of a. Brute force:
 * O(nd · na · features).
 */
export function flipTest(
  facetA: { features: readonly (readonly number[])[]; positivePrediction: readonly boolean[] },
  facetD: { features: readonly (readonly number[])[]; positivePrediction: readonly boolean[] },
): { value: number | null; reason?: string; flippedToFavorable: number; flippedToUnfavorable: number } {
  const na = facetA.features.length;
  const nd = facetD.features.length;
  if (nd === 0) return { value: null, reason: 'facet d is empty', flippedToFavorable: 0, flippedToUnfavorable: 0 };
  if (na === 0) return { value: null, reason: 'facet a (everyone outside the facet) is empty', flippedToFavorable: 0, flippedToUnfavorable: 0 };
  const k = na >= FLIP_TEST_MIN_ROWS_FOR_K ? FLIP_TEST_NEIGHBOURS : 1;
  let fPlus = 0;
  let fMinus = 0;
  const best: { dist: number; pos: boolean }[] = [];
  for (let i = 0; i < nd; i++) {
    const x = facetD.features[i]!;
    best.length = 0;
    for (let j = 0; j < na; j++) {
      const y = facetA.features[j]!;
      let dist = 0;
      for (let f = 0; f < x.length; f++) {
        const delta = x[f]! - y[f]!;
        dist += delta * delta;
      }
      if (best.length < k || dist < best[best.length - 1]!.dist) {
        // keep the k nearest, sorted; ties keep the earlier row (stable)
        let at = best.length;
        while (at > 0 && best[at - 1]!.dist > dist) at--;
        best.splice(at, 0, { dist, pos: facetA.positivePrediction[j]! });
        if (best.length > k) best.pop();
      }
    }
    const favourableVotes = best.filter((b) => b.pos).length;
    const neighboursFavourable = favourableVotes * 2 > best.length;
    const own = facetD.positivePrediction[i]!;
    if (!own && neighboursFavourable) fPlus++;
    if (own && !neighboursFavourable) fMinus++;
  }
  return { value: (fPlus - fMinus) / nd, flippedToFavorable: fPlus, flippedToUnfavorable: fMinus };
}
