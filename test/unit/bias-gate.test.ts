import { describe, expect, it } from 'vitest';
import { cpsRows } from '../../bin/local/sample-data';
import { BiasAccumulator, evaluateBias, InvalidBiasConfigError, type BiasGateConfig } from '../../lambdas/core/bias-gate';

const config: BiasGateConfig = {
  label: { column: 'wage', threshold: 10 },
  facets: [{ column: 'gender', values: ['female'] }, { column: 'age', threshold: 50 }],
  thresholds: { CI: 0.5, DPL: 0.1, KL: 0.1 },
};

function accumulate(rows: readonly Record<string, unknown>[], c: BiasGateConfig = config): BiasAccumulator {
  const acc = new BiasAccumulator(c);
  rows.forEach((r) => acc.add(r));
  return acc;
}

describe('bias gate on the 1985 CPS wages (checked against counts taken directly from the rows)', () => {
  const rows = cpsRows() as unknown as Record<string, unknown>[];
  const outcome = evaluateBias(accumulate(rows), config);

  it('computes CI, DPL and KL for gender = female with wage > 10 as the positive outcome', () => {
    const women = rows.filter((r) => r.gender === 'female');
    const men = rows.filter((r) => r.gender !== 'female');
    const qd = women.filter((r) => (r.wage as number) > 10).length / women.length;
    const qa = men.filter((r) => (r.wage as number) > 10).length / men.length;
    expect(outcome.metrics['gender=female.CI']).toBeCloseTo((men.length - women.length) / rows.length, 12);
    expect(outcome.metrics['gender=female.DPL']).toBeCloseTo(qa - qd, 12);
    expect(outcome.metrics['gender=female.KL']).toBeCloseTo((1 - qa) * Math.log((1 - qa) / (1 - qd)) + qa * Math.log(qa / qd), 12);
    expect(qa - qd).toBeGreaterThan(0.1); // the data does show a gap: men were more often above $10/h
  });

  it('fails with a reason per breached threshold, naming facet and metric', () => {
    expect(outcome.passed).toBe(false);
    expect(outcome.reasons).toContainEqual(expect.stringMatching(/^gender=female: DPL \|0\.\d{4}\| > 0\.1$/));
  });

  it('measures a numeric facet by threshold (age > 50)', () => {
    const older = rows.filter((r) => (r.age as number) > 50).length;
    expect(outcome.metrics['age>50.CI']).toBeCloseTo((rows.length - 2 * older) / rows.length, 12);
  });

  it('passes with thresholds the data meets, and bounds DI by a range', () => {
    const scored = rows.map((r) => ({ ...r, predicted: (r.wage as number) > 10 ? 1 : 0 }));
    const lenient: BiasGateConfig = { ...config, prediction: { column: 'predicted', values: [1] }, thresholds: { CI: 1, DI: { min: 0.3 } } };
    const result = evaluateBias(accumulate(scored, lenient), lenient);
    expect(result.reasons).toEqual([]);
    const strict: BiasGateConfig = { ...lenient, thresholds: { DI: { min: 0.8 } } };
    expect(evaluateBias(accumulate(scored, strict), strict).reasons).toContainEqual(expect.stringMatching(/^gender=female: DI 0\.\d{4} < 0\.8$/));
  });
});

describe('edge cases', () => {
  it('an empty facet fails the gate with the reason, unless told to pass', () => {
    const rows = [{ wage: 20, gender: 'male', age: 30 }, { wage: 5, gender: 'male', age: 40 }];
    const failing = evaluateBias(accumulate(rows), config);
    expect(failing.reasons).toContain('gender=female: DPL cannot be computed (facet d is empty)');
    expect(failing.metrics['gender=female.CI']).toBe(1);
    const lenient = { ...config, onUndefined: 'pass' as const };
    expect(evaluateBias(accumulate(rows, lenient), lenient).reasons.filter((r) => r.includes('cannot'))).toEqual([]);
  });

  it('skips and counts rows missing the label or a facet', () => {
    const acc = accumulate([{ wage: '', gender: 'female', age: 30 }, { wage: 12, gender: null, age: 'old' }, { wage: 12, gender: 'female', age: 60 }]);
    expect(acc.toJSON().skipped).toEqual({ "label 'wage' missing or not numeric": 1, "facet 'gender' missing or not numeric": 1, "facet 'age' missing or not numeric": 1 });
    expect(acc.rows).toBe(3);
  });

  it('merges shard accumulators exactly', () => {
    const rows = cpsRows() as unknown as Record<string, unknown>[];
    const merged = accumulate(rows.slice(0, 200));
    merged.merge(accumulate(rows.slice(200)));
    expect(merged.toJSON()).toEqual(accumulate(rows).toJSON());
  });

  it.each([
    [{ ...config, facets: [] }, 'facets: expected at least one facet'],
    [{ ...config, label: { column: 'wage' } }, 'label: give either values or threshold (exactly one)'],
    [{ ...config, facets: [{ column: 'g', values: [] }] }, 'facets[0].values: expected a non-empty list'],
    [{ ...config, thresholds: { DPL: -1 } }, 'thresholds.DPL: expected a number >= 0'],
    [{ ...config, prediction: { column: 'p', values: [1] }, thresholds: { DI: {} } }, 'thresholds.DI: expected a number >= 0 (|value| bound) or { min, max }'],
    [{ ...config, prediction: { column: 'p', values: [1] }, model: {} }, "model: give either 'prediction' (rows already scored) or 'model' (the gate scores the rows), not both"],
    [{ ...config, model: { probabilityThreshold: Number.NaN } }, 'model.probabilityThreshold: expected a finite number'],
    [{ ...config, model: { batchSize: 1.5 } }, 'model.batchSize: expected a whole number from 1 to 65536'],
    [{ ...config, model: [] }, 'model: expected { probabilityThreshold?, batchSize? }'],
    [{ ...config, thresholds: { XYZ: 1 } }, 'thresholds.XYZ: not a metric'],
  ] as [unknown, string][])('rejects a bad config, naming the field: %#', (bad, message) => {
    expect(() => new BiasAccumulator(bad as BiasGateConfig)).toThrow(InvalidBiasConfigError);
    expect(() => new BiasAccumulator(bad as BiasGateConfig)).toThrow(message);
  });
});
