import { describe, expect, it } from 'vitest';
import {
  addObservation,
  divide,
  emptyBiasCounts,
  flipTest,
  jsDivergence,
  klDivergence,
  mergeBiasCounts,
  postTrainingBias,
  preTrainingBias,
  type BiasCounts,
  type BiasObservation,
} from '../../lambdas/core/bias';

/** [facet d?, label, prediction, group] */
type Row = [boolean, 0 | 1, 0 | 1, string];

// A hand-worked example. Facet a (5 rows): TP, FN, FP, TN, TP. Facet d (4 rows): FN, TN, TN, TP.
const ROWS: Row[] = [
  [false, 1, 1, 'g1'],
  [false, 1, 0, 'g1'],
  [false, 0, 1, 'g2'],
  [false, 0, 0, 'g2'],
  [false, 1, 1, 'g2'],
  [true, 1, 0, 'g1'],
  [true, 0, 0, 'g1'],
  [true, 0, 0, 'g2'],
  [true, 1, 1, 'g2'],
];

function counts(rows: Row[], options: { groups?: boolean; predictions?: boolean } = {}): BiasCounts {
  const c = emptyBiasCounts();
  for (const [inFacet, label, pred, group] of rows) {
    const o: BiasObservation = { inFacet, label: String(label), positiveLabel: label === 1, ...(options.predictions === false ? {} : { positivePrediction: pred === 1 }), ...(options.groups ? { group } : {}) };
    addObservation(c, o);
  }
  return c;
}

describe('pre-training bias metrics (hand-computed)', () => {
  const { values, undefinedReasons } = preTrainingBias(counts(ROWS));

  it.each([
    // CI = (na − nd)/(na + nd) = (5 − 4)/9
    ['CI', 1 / 9],
    // DPL = qa − qd = 3/5 − 2/4
    ['DPL', 0.1],
    // Pa = [0.4, 0.6], Pd = [0.5, 0.5]: KL = 0.4 ln 0.8 + 0.6 ln 1.2
    ['KL', 0.4 * Math.log(0.8) + 0.6 * Math.log(1.2)],
    // m = [0.45, 0.55]: JS = ½[0.4 ln(0.4/0.45) + 0.6 ln(0.6/0.55)] + ½[0.5 ln(0.5/0.45) + 0.5 ln(0.5/0.55)]
    ['JS', 0.5 * (0.4 * Math.log(0.4 / 0.45) + 0.6 * Math.log(0.6 / 0.55)) + 0.5 * (0.5 * Math.log(0.5 / 0.45) + 0.5 * Math.log(0.5 / 0.55))],
    // LP = √(0.1² + 0.1²)
    ['LP', Math.SQRT2 / 10],
    // TVD = ½(0.1 + 0.1)
    ['TVD', 0.1],
    // KS = max |Pa − Pd|
    ['KS', 0.1],
    // no group variable: DD = d's share of the rejected (2/4) − d's share of the accepted (2/5)
    ['CDDL', 0.1],
  ] as const)('%s', (metric, expected) => {
    expect(values[metric]).toBeCloseTo(expected, 12);
  });

  it('KL = 0.0201355 and JS = 0.0050594 (decimal check of the formulas above)', () => {
    expect(values.KL).toBeCloseTo(0.0201355, 6);
    expect(values.JS).toBeCloseTo(0.0050594, 6);
    expect(undefinedReasons).toEqual({});
  });

  it('CDDL weighs each group\'s DD by its size: (4·2/3 + 5·(−1/6))/9 = 11/54', () => {
    // g1: a accepted 2, rejected 0; d accepted 1, rejected 1 -> DD = 1/1 − 1/3 = 2/3 (4 rows)
    // g2: a accepted 1, rejected 2; d accepted 1, rejected 1 -> DD = 1/3 − 1/2 = −1/6 (5 rows)
    expect(preTrainingBias(counts(ROWS, { groups: true })).values.CDDL).toBeCloseTo(11 / 54, 12);
  });
});

describe('post-training bias metrics (hand-computed)', () => {
  // a: TP 2, FN 1, FP 1, TN 1; d: TP 1, FN 1, FP 0, TN 2
  const { values } = postTrainingBias(counts(ROWS));
  it.each([
    ['DPPL', 3 / 5 - 1 / 4], // q̂a − q̂d
    ['DI', 1 / 4 / (3 / 5)], // q̂d / q̂a
    ['DCA', 3 / 3 - 2 / 1], // (observed/predicted positives) a − d
    ['DCR', 2 / 3 - 2 / 2], // (observed/predicted negatives) d − a
    ['RD', 2 / 3 - 1 / 2], // recall a − d
    ['SD', 2 / 2 - 1 / 2], // specificity d − a
    ['DAR', 2 / 3 - 1 / 1], // precision a − d
    ['DRR', 2 / 3 - 1 / 2], // TN/(TN+FN) d − a
    ['AD', 3 / 5 - 3 / 4], // accuracy a − d
    ['CDDPL', 3 / 5 - 1 / 4], // d's share of negative predictions − of positive predictions
  ] as const)('%s', (metric, expected) => {
    expect(values[metric]).toBeCloseTo(expected, 12);
  });

  it('TE = FNd/FPd − FNa/FPa is +Infinity when facet d has no false positive', () => {
    expect(values.TE).toBe(Infinity);
  });

  it('TE is finite with false positives on both sides: 1/1 − 1/1 = 0', () => {
    const rows: Row[] = [...ROWS, [true, 0, 1, 'g2']];
    expect(postTrainingBias(counts(rows)).values.TE).toBe(0);
  });
});

describe('edge cases', () => {
  it('facet d empty: CI = 1, everything else null with the reason', () => {
    const { values, undefinedReasons } = preTrainingBias(counts(ROWS.filter(([d]) => !d)));
    expect(values.CI).toBe(1);
    expect(values.DPL).toBeNull();
    expect(undefinedReasons.KL).toBe('facet d is empty');
    expect(postTrainingBias(counts(ROWS.filter(([d]) => !d))).undefinedReasons.DI).toBe('facet d is empty');
  });

  it('facet a empty: CI = −1, everything else null', () => {
    const { values, undefinedReasons } = preTrainingBias(counts(ROWS.filter(([d]) => d)));
    expect(values.CI).toBe(-1);
    expect(undefinedReasons.DPL).toBe('facet a (everyone outside the facet) is empty');
  });

  it('no rows at all: every metric null', () => {
    const { values, undefinedReasons } = preTrainingBias(emptyBiasCounts());
    expect(Object.values(values).every((v) => v === null)).toBe(true);
    expect(undefinedReasons.CI).toBe('no rows');
  });

  it('a group of size 1 is measured, not dropped', () => {
    const rows: Row[] = [[true, 1, 1, 'g'], [false, 0, 0, 'g'], [false, 1, 0, 'g']];
    const { values } = preTrainingBias(counts(rows));
    expect(values.DPL).toBeCloseTo(1 / 2 - 1, 12);
    expect(postTrainingBias(counts(rows)).values.DI).toBe(Infinity); // q̂d = 1, q̂a = 0
  });

  it('KL is +Infinity when facet d lacks a label value that facet a has (the documented definition)', () => {
    const rows: Row[] = [[false, 0, 0, 'g'], [false, 1, 0, 'g'], [true, 1, 0, 'g']];
    const { values } = preTrainingBias(counts(rows));
    expect(values.KL).toBe(Infinity); // Pa = [½, ½], Pd = [0, 1]
    expect(values.JS).toBeCloseTo(0.5 * (0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75)) + 0.5 * Math.log(1 / 0.75), 12);
    expect(values.KS).toBeCloseTo(0.5, 12);
  });

  it('KL is finite when facet a lacks a label value that d has (0·log 0 = 0): KL([1,0]‖[½,½]) = ln 2', () => {
    expect(klDivergence([1, 0], [0.5, 0.5])).toBeCloseTo(Math.LN2, 12);
  });

  it('JS of disjoint distributions is ln 2, its maximum; of equal ones, 0', () => {
    expect(jsDivergence([1, 0], [0, 1])).toBeCloseTo(Math.LN2, 12);
    expect(jsDivergence([0.3, 0.7], [0.3, 0.7])).toBe(0);
  });

  it('CDDL is null, not 0, when every row has the same label', () => {
    const rows: Row[] = [[true, 1, 1, 'g'], [false, 1, 1, 'g']];
    expect(preTrainingBias(counts(rows)).undefinedReasons.CDDL).toMatch(/every row is accepted/);
    expect(postTrainingBias(counts(rows)).undefinedReasons.CDDPL).toMatch(/every prediction is positive/);
  });

  it('rows without predictions do not count for post-training metrics', () => {
    expect(postTrainingBias(counts(ROWS, { predictions: false })).undefinedReasons.DPPL).toBe('no rows with predictions');
  });

  it.each([
    [0, 0, 0],
    [1, 0, Infinity],
    [-1, 0, -Infinity],
    [1, 4, 0.25],
  ])('divide(%d, %d) = %d (Clarify convention)', (a, b, expected) => {
    expect(divide(a, b)).toBe(expected);
  });
});

describe('merging counts', () => {
  it('merge(count(A), count(B)) equals count(A ∪ B) for random splits', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const rows: Row[] = Array.from({ length: 500 }, () => [random() < 0.3, random() < 0.5 ? 1 : 0, random() < 0.4 ? 1 : 0, `g${Math.floor(random() * 4)}`]);
    const whole = counts(rows, { groups: true });
    for (let trial = 0; trial < 20; trial++) {
      const cut = Math.floor(random() * rows.length);
      const merged = mergeBiasCounts(counts(rows.slice(0, cut), { groups: true }), counts(rows.slice(cut), { groups: true }));
      expect(merged).toEqual(whole);
      expect(preTrainingBias(merged)).toEqual(preTrainingBias(whole));
    }
  });
});

describe('flip test (documented sign: positive = worse for facet d)', () => {
  // Facet a on a line at x = 0..9, predicted favorable from x = 5 (k = 5 neighbours, since na ≥ 10).
  const a = { features: Array.from({ length: 10 }, (_, x) => [x]), positivePrediction: Array.from({ length: 10 }, (_, x) => x >= 5) };

  it('counts an unfavorable prediction among favorable neighbours as F+', () => {
    // x=7 unfavorable (neighbours 7,6,8,5,9 favorable): F+; x=6 unfavorable: F+;
    // x=1 favorable (neighbours 1,0,2,3,4 unfavorable): F−; x=8 favorable: no flip.
    const d = { features: [[7], [6], [1], [8]], positivePrediction: [false, false, true, true] };
    expect(flipTest(a, d)).toEqual({ value: (2 - 1) / 4, flippedToFavorable: 2, flippedToUnfavorable: 1 });
  });

  it('uses one neighbour when facet a has fewer than 10 rows', () => {
    const small = { features: [[0], [10]], positivePrediction: [false, true] };
    expect(flipTest(small, { features: [[9]], positivePrediction: [false] }).value).toBe(1);
  });

  it('is null with a reason when a facet is empty', () => {
    expect(flipTest(a, { features: [], positivePrediction: [] })).toMatchObject({ value: null, reason: 'facet d is empty' });
  });
});
