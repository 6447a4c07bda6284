import { describe, expect, it } from 'vitest';
import { binMass, chiSquare, compareProfiles, jsDistance, ksStatistic, psi, PSI_EPSILON } from '../../lambdas/core/drift';
import { DatasetProfile } from '../../lambdas/core/profile/dataset-profile';
import { profileDelimited } from '../../lambdas/core/profile/readers';

async function* once(text: string): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield Buffer.from(text);
}
const profile = (header: string, rows: string[]) => profileDelimited(once([header, ...rows].join('\n') + '\n'), { file: 'd.csv' });

describe('drift statistics (hand-computed)', () => {
  it('PSI = Σ (c − b) ln(c/b)', () => {
    // (0.6 − 0.5) ln(0.6/0.5) + (0.4 − 0.5) ln(0.4/0.5)
    expect(psi([0.5, 0.5], [0.6, 0.4])).toBeCloseTo(0.1 * Math.log(1.2) - 0.1 * Math.log(0.8), 12);
    expect(psi([0.25, 0.25, 0.5], [0.25, 0.25, 0.5])).toBe(0);
  });

  it('PSI raises empty bins to epsilon (1e-4) instead of going infinite', () => {
    // (0 → ε): (ε − 0.5) ln(ε/0.5) + (1 − 0.5) ln(1/0.5)
    expect(psi([0.5, 0.5], [0, 1])).toBeCloseTo((PSI_EPSILON - 0.5) * Math.log(PSI_EPSILON / 0.5) + 0.5 * Math.log(2), 12);
  });

  it('Jensen–Shannon distance is 0 for equal, 1 for disjoint distributions', () => {
    expect(jsDistance([0.3, 0.7], [0.3, 0.7])).toBe(0);
    expect(jsDistance([1, 0], [0, 1])).toBeCloseTo(1, 12);
    // JSD([½,½],[1,0]) = ½·[½log2(½/¾) + ½log2(½/¼)] + ½·[1·log2(1/¾)]
    const jsd = 0.5 * (0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(0.5 / 0.25)) + 0.5 * Math.log2(1 / 0.75);
    expect(jsDistance([0.5, 0.5], [1, 0])).toBeCloseTo(Math.sqrt(jsd), 12);
  });

  it('KS statistic is the largest CDF gap', () => {
    const a = [1, 2, 3, 4].map((value) => ({ value, count: 1 }));
    const b = [3, 4, 5, 6].map((value) => ({ value, count: 1 }));
    expect(ksStatistic(a, b)).toBe(0.5); // at x = 2: F_a = ½, F_b = 0
    expect(ksStatistic(a, a)).toBe(0);
    expect(ksStatistic(a, [{ value: 10, count: 5 }])).toBe(1);
  });

  it('chi-square: Σ (O − E)²/E with its p-value', () => {
    // O = [30, 70], E = 100·[0.5, 0.5]: (20² + 20²)/50 = 16, 1 df
    const r = chiSquare([30, 70], [0.5, 0.5]);
    expect(r.statistic).toBeCloseTo(16, 12);
    expect(r.degreesOfFreedom).toBe(1);
    expect(r.pValue).toBeCloseTo(6.334e-5, 7);
    expect(chiSquare([50, 50], [0.5, 0.5]).pValue).toBe(1);
  });

  it('binMass puts a value equal to an edge in the upper bin', () => {
    expect(binMass([{ value: 1, count: 1 }, { value: 2, count: 1 }, { value: 3, count: 2 }], [2])).toEqual([0.25, 0.75]);
  });
});

describe('compareProfiles', () => {
  const rows = (n: number, shift: number, colors: string[]) => Array.from({ length: n }, (_, i) => `${((i * 37) % 1000) / 10 + shift},${colors[i % colors.length]}`);

  it('finds no drift between two samples of the same distribution', async () => {
    const base = await profile('x,color', rows(5000, 0, ['red', 'green', 'blue']));
    const same = await profile('x,color', rows(3000, 0, ['green', 'blue', 'red']));
    const report = compareProfiles(base, same);
    expect(report.drifted).toBe(false);
    expect(report.columns.find((c) => c.column === 'x')!.metrics.psi).toBeLessThan(0.01);
  });

  it('raises PSI, JS and KS past their thresholds on shifted numbers, naming the column', async () => {
    const base = await profile('x,color', rows(5000, 0, ['red', 'green', 'blue']));
    const shifted = await profile('x,color', rows(5000, 40, ['red', 'green', 'blue']));
    const x = compareProfiles(base, shifted).columns.find((c) => c.column === 'x')!;
    expect(x.drifted).toBe(true);
    expect(x.metrics.ks).toBeCloseTo(0.4, 1);
    expect(x.reasons.join('\n')).toMatch(/^x: PSI \d+\.\d+ > 0\.2$/m);
  });

  it('flags a changed category mix and a new category', async () => {
    const base = await profile('x,color', rows(3000, 0, ['red', 'green', 'blue']));
    const mix = await profile('x,color', rows(3000, 0, ['red', 'red', 'red', 'green', 'purple']));
    const color = compareProfiles(base, mix).columns.find((c) => c.column === 'color')!;
    expect(color.drifted).toBe(true);
    // shares: red ⅓ → 0.6, green ⅓ → 0.2, blue ⅓ → 0, purple 0 → 0.2: the largest move is blue's ⅓
    expect(color.metrics.linf).toBeCloseTo(1 / 3, 12);
    expect(color.reasons).toContain("color: share of 'blue' moved by 0.3333 (L∞ > 0.1)");
    expect(color.reasons).toContain("color: new category 'purple'");
  });

  it('finds no drift between a profile and its own JSON round trip, even on discrete columns with big atoms', async () => {
    const base = await profile('years,color', Array.from({ length: 1000 }, (_, i) => `${i % 10 < 4 ? 12 : 8 + (i % 9)},${i % 3 ? 'a' : 'b'}`));
    const restored = DatasetProfile.fromJSON(JSON.parse(JSON.stringify(base.toJSON())));
    const report = compareProfiles(restored, base);
    expect(report.columns.map((c) => [c.column, c.metrics])).toEqual([['years', { psi: 0, jsDistance: 0, ks: 0 }], ['color', { linf: 0, chiSquare: 0, chiSquarePValue: 1 }]]);
  });

  it('reports a column missing from the current data, and honours per-column thresholds', async () => {
    const base = await profile('x,color', rows(1000, 0, ['a', 'b']));
    const onlyX = await profile('x', rows(1000, 5, ['a']).map((r) => r.split(',')[0]!));
    const report = compareProfiles(base, onlyX, { columnThresholds: { x: { psi: 10, jsDistance: 1, ks: 1 } } });
    expect(report.columns.find((c) => c.column === 'x')!.drifted).toBe(false);
    expect(report.columns.find((c) => c.column === 'color')).toMatchObject({ drifted: true, reasons: ['color: column missing from the current data'] });
  });
});
