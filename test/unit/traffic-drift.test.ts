import { describe, expect, it } from 'vitest';
import { DatasetProfile } from '../../lambdas/core/profile/dataset-profile';
import { TrafficProfile, trafficDrift } from '../../lambdas/core/traffic-drift';

/*
 * Drift of captured traffic against training data, against values computed by
 * hand from the documented formulas (drift.ts): PSI = Σ (c − b)·ln(c / b) with
 * empty bins raised to 1e-4, JS distance = √(½ Σ p·log2(p/m) + ½ Σ q·log2(q/m)).
 * Numeric bins are cut at the training data's deciles, read from a sketch with
 * 1% relative accuracy, so numeric results are checked to 0.05.
 */

function baseline(rows: readonly Record<string, unknown>[]): DatasetProfile {
  const p = new DatasetProfile('jsonl');
  for (const r of rows) p.addRecord(r);
  return p;
}

function traffic(features: string[], rows: readonly Record<string, unknown>[]): TrafficProfile {
  const t = new TrafficProfile(features);
  for (const r of rows) t.add(r);
  return t;
}

// 1000 distinct values spread evenly over [0, 10): the deciles are 1, 2, ..., 9
const EVEN = Array.from({ length: 1000 }, (_, i) => ({ x: i / 100 }));

describe('trafficDrift', () => {
  it('a numeric feature squeezed into half its range: PSI and JS as computed by hand', () => {
    // 0.2 of the rows in each of the 5 lowest deciles (at their middles, away from the sketch's
    // edge buckets), none in the 5 highest:
    // PSI = 5·(0.2 − 0.1)·ln 2 + 5·(1e-4 − 0.1)·ln(1e-4 / 0.1) = 0.34657 + 3.45043 = 3.79700
    // JS: m = 0.15 (5 bins), 0.05 (5 bins); ½[0.5·log2(2/3) + 0.5·log2 2] + ½[1·log2(4/3)] = 0.31128, √ = 0.55793
    const cur = traffic(['x'], Array.from({ length: 1000 }, (_, i) => ({ x: (i % 5) + 0.5, __prediction: 0.5 })));
    const r = trafficDrift(baseline(EVEN), cur, { features: ['x'], baselineMean: 0.5 });
    expect(r.judged).toBe(true);
    expect(r.features[0]).toMatchObject({ feature: 'x', kind: 'numeric', drifted: true });
    expect(r.features[0]!.psi).toBeCloseTo(3.797, 1);
    expect(r.features[0]!.psi).toBeGreaterThan(3.7);
    expect(r.features[0]!.jsDistance).toBeCloseTo(0.558, 1);
    expect(r.reasons).toEqual([expect.stringMatching(/^x: PSI 3\.\d{4} > 0\.2$/), expect.stringMatching(/^x: Jensen–Shannon distance 0\.5\d{3} > 0\.1$/)]);
    expect(r.prediction).toEqual({ mean: 0.5, baselineMean: 0.5, shift: 0, drifted: false });
    expect(r.drifted).toBe(true);
  });

  it('the same distribution (another sample of it) does not drift', () => {
    const cur = traffic(['x'], Array.from({ length: 500 }, (_, i) => ({ x: (2 * i + 1) / 100 })));
    const r = trafficDrift(baseline(EVEN), cur, { features: ['x'], baselineMean: null });
    expect(r.features[0]!.psi).toBeLessThan(0.02);
    expect(r.features[0]!.jsDistance).toBeLessThan(0.07);
    expect(r.drifted).toBe(false);
    expect(r.reasons).toEqual([]);
    expect(r.prediction.shift).toBeNull(); // no training mean: no prediction shift
  });

  it('a categorical feature: PSI and JS over category shares, exactly', () => {
    // training 40% female / 60% male, traffic 50/50:
    // PSI = 0.1·ln(0.5/0.4) − 0.1·ln(0.5/0.6) = 0.022314 + 0.018232 = 0.040546
    // JS: m = (0.45, 0.55); √(½(0.4·log2(0.4/0.45) + 0.6·log2(0.6/0.55)) + ½(0.5·log2(0.5/0.45) + 0.5·log2(0.5/0.55))) = √0.0072993 = 0.085436
    const base = baseline(Array.from({ length: 100 }, (_, i) => ({ gender: i < 40 ? 'female' : 'male' })));
    const cur = traffic(['gender'], Array.from({ length: 200 }, (_, i) => ({ gender: i % 2 ? 'female' : 'male' })));
    const r = trafficDrift(base, cur, { features: ['gender'], baselineMean: null });
    expect(r.features[0]).toMatchObject({ kind: 'categorical', drifted: false });
    expect(r.features[0]!.psi).toBeCloseTo(0.040546, 5);
    expect(r.features[0]!.jsDistance).toBeCloseTo(0.085436, 5);
    // a category the training data never had drifts: its baseline share is raised to 1e-4
    const added = trafficDrift(base, traffic(['gender'], Array.from({ length: 100 }, (_, i) => ({ gender: i < 50 ? 'other' : 'male' }))), { features: ['gender'], baselineMean: null });
    expect(added.features[0]!.psi).toBeGreaterThan(4);
    expect(added.features[0]!.drifted).toBe(true);
  });

  it('prediction shift: |mean captured score − training mean|, NaN scores left out', () => {
    const rows = [...Array.from({ length: 100 }, (_, i) => ({ x: i / 10, __prediction: i < 50 ? 0.5 : 0.7 })), { x: 1, __prediction: Number.NaN }, { x: 2, __prediction: 'high' }];
    const r = trafficDrift(baseline(EVEN), traffic(['x'], rows), { features: ['x'], baselineMean: 0.45 });
    expect(r.prediction.mean).toBeCloseTo(0.6, 12);
    expect(r.prediction.shift).toBeCloseTo(0.15, 12);
    expect(r.prediction.drifted).toBe(true);
    expect(r.reasons.at(-1)).toBe('prediction: mean 0.6000 is 0.1500 from the training mean 0.4500 (> 0.1)');
    expect(trafficDrift(baseline(EVEN), traffic(['x'], rows), { features: ['x'], baselineMean: 0.45, thresholds: { predictionShift: 0.2 } }).prediction.drifted).toBe(false);
  });

  it('judges nothing below minRows, and says so', () => {
    const r = trafficDrift(baseline(EVEN), traffic(['x'], [{ x: 50, __prediction: 1 }]), { features: ['x'], baselineMean: 0 });
    expect(r).toEqual({ rows: 1, judged: false, features: [], prediction: { mean: 1, baselineMean: 0, shift: null, drifted: false }, drifted: false, reasons: ['1 captured rows, fewer than the 100 needed to judge drift'] });
    expect(trafficDrift(baseline(EVEN), traffic(['x'], [{ x: 50 }]), { features: ['x'], baselineMean: 0, minRows: 1 }).judged).toBe(true);
  });

  it('edge cases: empty traffic for a feature, missing values, a feature the training data lacks, a constant column', () => {
    const missing = traffic(['x', 'y'], Array.from({ length: 100 }, () => ({ x: null, y: 3 })));
    const r = trafficDrift(baseline(EVEN), missing, { features: ['x', 'y'], baselineMean: null });
    expect(r.features).toEqual([
      { feature: 'x', kind: 'numeric', psi: null, jsDistance: null, drifted: true, reasons: ['x: no numeric values in the captured traffic'] },
      { feature: 'y', kind: 'absent', psi: null, jsDistance: null, drifted: false, reasons: [] },
    ]);
    // a constant training column: every decile is the constant, one edge; values below it are caught...
    const constant = baseline(Array.from({ length: 100 }, () => ({ c: 5 })));
    const below = trafficDrift(constant, traffic(['c'], Array.from({ length: 100 }, () => ({ c: 4 }))), { features: ['c'], baselineMean: null });
    // PSI = (1 − 1e-4)·ln(1/1e-4) + (1e-4 − 1)·ln(1e-4/1) = 2 · 0.9999 · 9.21034 = 18.4188
    expect(below.features[0]!.psi).toBeCloseTo(18.4188, 3);
    // ...values above it share the constant's bin: quantile bins cannot see that move (a documented limit)
    expect(trafficDrift(constant, traffic(['c'], Array.from({ length: 100 }, () => ({ c: 6 }))), { features: ['c'], baselineMean: null }).features[0]!.psi).toBe(0);
    expect(trafficDrift(constant, traffic(['c'], Array.from({ length: 100 }, () => ({ c: 5 }))), { features: ['c'], baselineMean: null }).features[0]!.psi).toBe(0);
  });
});
