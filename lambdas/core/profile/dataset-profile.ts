import { ColumnAccumulator, DEFAULT_MISSING_TOKENS, type ColumnProfileState, type ColumnSummary } from './column-profile';

/*
 * A dataset's profile: rows, and one ColumnAccumulator per column in the order
 * columns were first seen. Serializes to JSON and merges, so a large dataset is
 * profiled in shards (files, byte ranges, row groups) and the shard profiles are
 * merged: profile(A ∪ B) == merge(profile(A), profile(B)), exactly for counts and
 * moments (up to floating-point rounding), within sketch error for quantiles and
 * the distinct count.
 */

export const PROFILE_VERSION = 1;

export interface DatasetProfileState {
  readonly version: typeof PROFILE_VERSION;
  readonly format: string;
  readonly rows: number;
  readonly columns: readonly { readonly name: string; readonly profile: ColumnProfileState }[];
}

export interface DatasetSummary {
  readonly format: string;
  readonly rows: number;
  readonly columns: Readonly<Record<string, ColumnSummary>>;
}

export interface ProfileOptions {
  /** Text cells read as missing (CSV/TSV). @default DEFAULT_MISSING_TOKENS */
  readonly missingTokens?: readonly string[];
  /** Counters of the frequent-items summary per column. @default 1000 */
  readonly frequentCapacity?: number;
}

export class DatasetProfile {
  rows = 0;
  private readonly columns = new Map<string, ColumnAccumulator>();
  private readonly missing: ReadonlySet<string>;
  private readonly capacity: number;

  constructor(readonly format: string, options: ProfileOptions = {}) {
    this.missing = new Set(options.missingTokens ?? DEFAULT_MISSING_TOKENS);
    this.capacity = options.frequentCapacity ?? 1000;
  }

  /** The column's accumulator, created on first use. */
  column(name: string): ColumnAccumulator {
    let c = this.columns.get(name);
    if (!c) {
      c = new ColumnAccumulator(this.capacity, this.missing);
      this.columns.set(name, c);
    }
    return c;
  }

  columnNames(): string[] {
    return [...this.columns.keys()];
  }

  /** One row of a text format, cells in header order. */
  addTextRow(columns: readonly ColumnAccumulator[], cells: readonly string[]): void {
    this.rows++;
    for (let i = 0; i < columns.length; i++) columns[i]!.observeText(cells[i]!);
  }

  /** One record of a typed format; keys it lacks count as missing. */
  addRecord(record: Readonly<Record<string, unknown>>): void {
    this.rows++;
    for (const [k, v] of Object.entries(record)) this.column(k).observeValue(v);
  }

  merge(other: DatasetProfile): void {
    this.rows += other.rows;
    for (const [name, c] of other.columns) {
      const mine = this.columns.get(name);
      if (mine) mine.merge(c);
      else this.columns.set(name, ColumnAccumulator.fromJSON(c.toJSON()));
    }
  }

  toJSON(): DatasetProfileState {
    return { version: PROFILE_VERSION, format: this.format, rows: this.rows, columns: [...this.columns].map(([name, c]) => ({ name, profile: c.toJSON() })) };
  }

  static fromJSON(state: DatasetProfileState): DatasetProfile {
    const version: unknown = state.version;
    if (version !== PROFILE_VERSION) throw new Error(`profile version ${JSON.stringify(version)} is not supported (expected ${String(PROFILE_VERSION)})`);
    const p = new DatasetProfile(state.format);
    p.rows = state.rows;
    for (const { name, profile } of state.columns) p.columns.set(name, ColumnAccumulator.fromJSON(profile));
    return p;
  }

  summary(): DatasetSummary {
    return { format: this.format, rows: this.rows, columns: Object.fromEntries([...this.columns].map(([name, c]) => [name, c.summary(this.rows)])) };
  }
}

/** Merges shard profiles (e.g. the outputs of a Distributed Map) into one. */
export function mergeProfiles(states: readonly DatasetProfileState[]): DatasetProfile {
  if (states.length === 0) throw new Error('mergeProfiles: no profiles to merge');
  const merged = DatasetProfile.fromJSON(states[0]!);
  for (const s of states.slice(1)) merged.merge(DatasetProfile.fromJSON(s));
  return merged;
}
