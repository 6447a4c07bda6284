import { DDSketch } from '@datadog/sketches-js';
import { FrequentItems, type FrequentItemsState } from './frequent-items';
import { HyperLogLog } from './hyperloglog';

/*
 * One column's profile, built in one pass and mergeable:
 * - counts of cells, missing cells and each kind of value;
 * - for finite numbers: count, mean and M2 (Chan et al.'s parallel update, so
 *   merged moments equal the moments of the union up to rounding), min, max, and
 *   a DDSketch (relative accuracy 1%) for quantiles and the histogram;
 * - NaN and ±Infinity counted apart (NaN is also missing, as in pandas; infinities
 *   are values, but kept out of the moments and the sketch);
 * - a HyperLogLog for the distinct count (exact while the frequent-items summary
 *   has never evicted), and a Misra–Gries summary for the most frequent values.
 */

export type ValueKind = 'integer' | 'float' | 'boolean' | 'string';
export type ColumnType = ValueKind | 'empty';

/** Text cells read as missing (CSV/TSV). */
export const DEFAULT_MISSING_TOKENS: readonly string[] = ['', 'NA', 'N/A', 'null', 'NULL', 'None'];
/** Relative accuracy of the quantile sketch. */
export const SKETCH_RELATIVE_ACCURACY = 0.01;
export const TOP_K = 10;
export const HISTOGRAM_BINS = 10;

export const NOT_NUMERIC = 0;
export const INTEGER_KIND = 1;
export const FLOAT_KIND = 2;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * The value of the literal `numericKind` last accepted, when it could compute it
 * exactly; NaN when `Number()` must parse it. Exact: at most 15 digits and no
 * exponent, so the digits are an integer below 2^53 and 10^k is exact, and one
 * IEEE division rounds correctly (Clinger's fast path): the same double as Number().
 */
let lexedValue = Number.NaN;

/**
 * Lexes a decimal literal without allocating: [+-] digits [. digits] [e [+-] digits],
 * at least one digit before the exponent, no surrounding space. Integer when it has
 * neither point nor exponent. (What /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/ accepts.)
 * Also computes the value when it can (see lexedValue).
 */
export function numericKind(s: string): number {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  const negative = c === 45;
  if (c === 43 || c === 45) c = s.charCodeAt(++i); // + -
  let digits = 0;
  let mantissa = 0;
  while (c >= 48 && c <= 57) {
    digits++;
    mantissa = mantissa * 10 + (c - 48);
    c = s.charCodeAt(++i);
  }
  let kind = INTEGER_KIND;
  let fraction = 0;
  if (c === 46) {
    kind = FLOAT_KIND; // .
    c = s.charCodeAt(++i);
    while (c >= 48 && c <= 57) {
      digits++;
      fraction++;
      mantissa = mantissa * 10 + (c - 48);
      c = s.charCodeAt(++i);
    }
  }
  if (digits === 0) return NOT_NUMERIC;
  let exact = digits <= 15;
  if (c === 101 || c === 69) {
    kind = FLOAT_KIND; // e E
    exact = false;
    c = s.charCodeAt(++i);
    if (c === 43 || c === 45) c = s.charCodeAt(++i);
    let exp = 0;
    while (c >= 48 && c <= 57) {
      exp++;
      c = s.charCodeAt(++i);
    }
    if (exp === 0) return NOT_NUMERIC;
  }
  if (i !== n) return NOT_NUMERIC;
  if (exact) {
    const v = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    lexedValue = negative ? -v : v;
  } else lexedValue = Number.NaN;
  return kind;
}

/** The value of the literal numericKind last accepted (Number() when it could not compute it exactly). */
export function lexedNumber(s: string): number {
  return Number.isNaN(lexedValue) ? Number(s) : lexedValue;
}
const NAN = /^[+-]?nan$/i;
const POS_INF = /^\+?(inf|infinity)$/i;
const NEG_INF = /^-(inf|infinity)$/i;

export interface ColumnProfileState {
  readonly count: number;
  readonly missing: number;
  readonly kinds: Readonly<Record<ValueKind, number>>;
  readonly nan: number;
  readonly positiveInfinity: number;
  readonly negativeInfinity: number;
  readonly numeric: { readonly n: number; readonly mean: number; readonly m2: number; readonly min: number; readonly max: number; readonly sketch: string } | null;
  readonly text: { readonly minLength: number; readonly maxLength: number } | null;
  readonly hll: string;
  readonly frequent: FrequentItemsState;
  /** Non-integer numbers, counted in the HyperLogLog only. */
  readonly continuous: number;
  /** Whether `hll` also holds the discrete values (false while the frequent-values summary is exact). */
  readonly hllSeeded: boolean;
}

export interface ColumnSummary {
  readonly type: ColumnType;
  /** Cells seen (rows where the column exists). */
  readonly count: number;
  readonly missing: number;
  readonly missingFraction: number;
  readonly kinds: Readonly<Record<ValueKind, number>>;
  readonly distinct: number;
  /** True when `distinct` and the top values' counts are exact. */
  readonly distinctExact: boolean;
  readonly nan: number;
  readonly infinite: number;
  /** Over finite numeric values. */
  readonly numeric: {
    readonly count: number;
    readonly min: number;
    readonly max: number;
    readonly mean: number;
    /** Sample variance (n − 1), like pandas; null for a single value. */
    readonly variance: number | null;
    readonly stddev: number | null;
    /** From the DDSketch: within 1% relative error, clamped to [min, max]. */
    readonly quantiles: Readonly<Record<string, number>>;
    readonly histogram: readonly { readonly lower: number; readonly upper: number; readonly count: number }[];
  } | null;
  readonly text: { readonly minLength: number; readonly maxLength: number } | null;
  readonly top: readonly { readonly value: string; readonly count: number }[];
}

export const QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;

/**
 * A sketch from its protobuf, with the canonical mapping. DDSketch.fromProto
 * re-derives the log mapping from its serialized gamma, so every bin's value comes
 * out ~1e-14 off a fresh sketch's, and equal data would no longer compare equal
 * (a discrete value would sit on both sides of a CDF step). The bins are copied
 * into a sketch built the same way as every fresh one instead.
 */
export function restoreSketch(base64: string): DDSketch {
  const restored = DDSketch.fromProto(new Uint8Array(Buffer.from(base64, 'base64')));
  const sketch = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
  if (!sketch.mergeable(restored) && Math.abs(sketch.mapping.gamma / restored.mapping.gamma - 1) > 1e-9) {
    throw new Error(`profile sketch was made with another relative accuracy (gamma ${restored.mapping.gamma}, expected ${sketch.mapping.gamma})`);
  }
  sketch.store.copy(restored.store);
  sketch.negativeStore.copy(restored.negativeStore);
  sketch.zeroCount = restored.zeroCount;
  sketch.count = restored.count;
  return sketch;
}

/**
 * DDSketch.merge of @datadog/sketches-js 2.1.1 merges the positive store and the
 * zero count but never the negative store (DataDog/sketches-js#22, open), so a
 * merged sketch loses every negative value. Merge that store here too; a
 * merge into an empty sketch copies both stores and needs no help.
 */
export function mergeSketch(into: DDSketch, from: DDSketch): void {
  const wasEmpty = into.count === 0;
  into.merge(from);
  if (!wasEmpty && from.count > 0) into.negativeStore.merge(from.negativeStore);
}

export class ColumnAccumulator {
  count = 0;
  missing = 0;
  readonly kinds: Record<ValueKind, number> = { integer: 0, float: 0, boolean: 0, string: 0 };
  nan = 0;
  positiveInfinity = 0;
  negativeInfinity = 0;
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private min = Infinity;
  private max = -Infinity;
  private sketch = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
  private minLength = Infinity;
  private maxLength = -Infinity;
  private hll = new HyperLogLog();
  private frequent: FrequentItems;
  /** Values kept out of the frequent-items summary (non-integer numbers). */
  private continuous = 0;
  /** Whether the HLL holds the discrete values too (see distinctValue). */
  private hllSeeded = false;

  private readonly longestMissingToken: number;

  constructor(frequentCapacity = 1000, private readonly missingTokens: ReadonlySet<string> = new Set(DEFAULT_MISSING_TOKENS)) {
    this.frequent = new FrequentItems(frequentCapacity);
    this.longestMissingToken = Math.max(0, ...[...missingTokens].map((t) => t.length));
  }

  /** A cell from a text format: its kind is inferred. */
  observeText(raw: string): void {
    this.count++;
    if (raw.length <= this.longestMissingToken && this.missingTokens.has(raw)) {
      this.missing++;
      return;
    }
    if (this.numericText(raw, numericKind(raw))) return;
    const trimmed = raw.trim();
    if (trimmed !== raw && this.numericText(trimmed, numericKind(trimmed))) return;
    if (NAN.test(trimmed)) {
      this.kinds.float++;
      this.nan++;
      this.missing++;
      return;
    } else if (POS_INF.test(trimmed) || NEG_INF.test(trimmed)) {
      this.kinds.float++;
      this.number(NEG_INF.test(trimmed) ? -Infinity : Infinity);
    } else if (/^(true|false)$/i.test(trimmed)) {
      this.kinds.boolean++;
    } else {
      this.kinds.string++;
      this.textLength(raw.length);
    }
    this.distinctValue(raw);
  }

  /** Records a numeric literal; false when `kind` says it is not one. */
  private numericText(text: string, kind: number): boolean {
    if (kind === NOT_NUMERIC) return false;
    const value = lexedNumber(text);
    this.number(value);
    if (kind === INTEGER_KIND) {
      this.kinds.integer++;
      this.distinctValue(text);
    } else {
      this.kinds.float++;
      this.continuousValue(value);
    }
    return true;
  }

  /** A typed value (JSON Lines, Parquet): its kind is its type; strings are not parsed. */
  observeValue(value: unknown): void {
    this.count++;
    if (value === null || value === undefined) {
      this.missing++;
      return;
    }
    switch (typeof value) {
      case 'number':
        if (Number.isNaN(value)) {
          this.kinds.float++;
          this.nan++;
          this.missing++;
          return;
        }
        this.number(value);
        if (Number.isInteger(value)) {
          this.kinds.integer++;
          this.distinctValue(String(value));
        } else {
          this.kinds.float++;
          this.continuousValue(value);
        }
        return;
      case 'bigint':
        this.kinds.integer++;
        this.number(Number(value));
        this.distinctValue(value.toString());
        return;
      case 'boolean':
        this.kinds.boolean++;
        this.distinctValue(String(value));
        return;
      case 'string':
        this.kinds.string++;
        this.textLength(value.length);
        this.distinctValue(value);
        return;
      default: {
        const text = value instanceof Date ? value.toISOString() : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        this.kinds.string++;
        this.textLength(text.length);
        this.distinctValue(text);
      }
    }
  }

  private number(v: number): void {
    if (v === Infinity) {
      this.positiveInfinity++;
      return;
    }
    if (v === -Infinity) {
      this.negativeInfinity++;
      return;
    }
    this.n++;
    const delta = v - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (v - this.mean);
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.sketch.accept(v);
  }

  private textLength(length: number): void {
    if (length < this.minLength) this.minLength = length;
    if (length > this.maxLength) this.maxLength = length;
  }

  /**
   * A discrete value. While the frequent-values summary is exact its keys are the
   * distinct values, so hashing into the HyperLogLog waits until the summary would
   * first evict; the HLL is then seeded with every value held (nothing is lost).
   */
  private distinctValue(key: string): void {
    if (this.hllSeeded) this.hll.add(key);
    else if (this.frequent.wouldEvict(key)) {
      this.seedHll();
      this.hll.add(key);
    }
    this.frequent.add(key);
  }

  private seedHll(): void {
    if (this.hllSeeded) return;
    for (const k of this.frequent.keys()) this.hll.add(k);
    this.hllSeeded = true;
  }

  /**
   * A non-integer number: counted for the distinct estimate only, by value. Frequent values
   * of a continuous column mean little and churning counters for them cost a
   * quarter of the profiling time; the column's distinct count then comes from
   * the HyperLogLog.
   */
  private continuousValue(value: number): void {
    this.hll.addNumber(value);
    this.continuous++;
  }

  /** Adds another shard's profile of the same column. */
  merge(other: ColumnAccumulator): void {
    this.count += other.count;
    this.missing += other.missing;
    for (const k of Object.keys(this.kinds) as ValueKind[]) this.kinds[k] += other.kinds[k];
    this.nan += other.nan;
    this.positiveInfinity += other.positiveInfinity;
    this.negativeInfinity += other.negativeInfinity;
    if (other.n > 0) {
      const n = this.n + other.n;
      const delta = other.mean - this.mean;
      this.mean += (delta * other.n) / n;
      this.m2 += other.m2 + (delta * delta * this.n * other.n) / n;
      this.n = n;
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
      mergeSketch(this.sketch, other.sketch);
    }
    this.minLength = Math.min(this.minLength, other.minLength);
    this.maxLength = Math.max(this.maxLength, other.maxLength);
    this.seedHll();
    const otherHll = new HyperLogLog(Uint8Array.from(other.hll.registers));
    if (!other.hllSeeded) for (const k of other.frequent.keys()) otherHll.add(k);
    this.hll.merge(otherHll);
    this.frequent.merge(other.frequent);
    this.continuous += other.continuous;
  }

  toJSON(): ColumnProfileState {
    return {
      count: this.count,
      missing: this.missing,
      kinds: { ...this.kinds },
      nan: this.nan,
      positiveInfinity: this.positiveInfinity,
      negativeInfinity: this.negativeInfinity,
      numeric: this.n > 0 ? { n: this.n, mean: this.mean, m2: this.m2, min: this.min, max: this.max, sketch: Buffer.from(this.sketch.toProto()).toString('base64') } : null,
      text: this.maxLength >= 0 ? { minLength: this.minLength, maxLength: this.maxLength } : null,
      hll: this.hll.toBase64(),
      frequent: this.frequent.toJSON(),
      continuous: this.continuous,
      hllSeeded: this.hllSeeded,
    };
  }

  static fromJSON(state: ColumnProfileState): ColumnAccumulator {
    const c = new ColumnAccumulator(state.frequent.capacity);
    c.count = state.count;
    c.missing = state.missing;
    Object.assign(c.kinds, state.kinds);
    c.nan = state.nan;
    c.positiveInfinity = state.positiveInfinity;
    c.negativeInfinity = state.negativeInfinity;
    if (state.numeric) {
      c.n = state.numeric.n;
      c.mean = state.numeric.mean;
      c.m2 = state.numeric.m2;
      c.min = state.numeric.min;
      c.max = state.numeric.max;
      c.sketch = restoreSketch(state.numeric.sketch);
    }
    if (state.text) {
      c.minLength = state.text.minLength;
      c.maxLength = state.text.maxLength;
    }
    c.hll = HyperLogLog.fromBase64(state.hll);
    c.frequent = FrequentItems.fromJSON(state.frequent);
    c.continuous = state.continuous;
    c.hllSeeded = state.hllSeeded;
    return c;
  }

  /** The kind that describes the column: strings win over numbers, floats over integers. */
  type(): ColumnType {
    const { integer, float, boolean, string } = this.kinds;
    if (integer + float + boolean + string === 0) return 'empty';
    if (string > 0 || (boolean > 0 && integer + float > 0)) return 'string';
    if (boolean > 0) return 'boolean';
    return float > 0 ? 'float' : 'integer';
  }

  /** Mass of the finite numeric values, as (value, count) pairs from the sketch's bins, ascending. */
  sketchBins(): { value: number; count: number }[] {
    const out: { value: number; count: number }[] = [];
    const { mapping, store, negativeStore, zeroCount } = this.sketch;
    for (let i = negativeStore.bins.length - 1; i >= 0; i--) {
      const count = negativeStore.bins[i]!;
      if (count > 0) out.push({ value: -mapping.value(i + negativeStore.offset), count });
    }
    if (zeroCount > 0) out.push({ value: 0, count: zeroCount });
    store.bins.forEach((count, i) => {
      if (count > 0) out.push({ value: mapping.value(i + store.offset), count });
    });
    return out;
  }

  /** True when the column holds at least one finite number. */
  hasFiniteNumbers(): boolean {
    return this.n > 0;
  }

  /** The quantile q of the finite values (DDSketch, clamped to the exact min and max). */
  quantile(q: number): number | null {
    if (this.n === 0) return null;
    return Math.min(this.max, Math.max(this.min, this.sketch.getValueAtQuantile(q)));
  }

  /** How many distinct non-missing values. */
  distinct(): { value: number; exact: boolean } {
    const exact = this.continuous === 0 ? this.frequent.distinct : undefined;
    if (exact !== undefined) return { value: exact, exact: true };
    // the HLL holds the discrete values only once seeded: count them in a copy
    let hll = this.hll;
    if (!this.hllSeeded && this.frequent.distinct !== 0) {
      hll = new HyperLogLog(Uint8Array.from(this.hll.registers));
      for (const k of this.frequent.keys()) hll.add(k);
    }
    return { value: Math.round(hll.estimate()), exact: false };
  }

  /** Every value the frequent-items summary holds, with its count (all values, while the summary is exact). */
  values(): [string, number][] {
    return this.frequent.top(Infinity);
  }

  /** Count of one value (exact while the summary is exact; otherwise a lower bound). */
  frequency(value: string): number {
    return this.frequent.count(value);
  }

  summary(rows?: number): ColumnSummary {
    const absent = rows !== undefined ? Math.max(0, rows - this.count) : 0;
    const count = this.count + absent;
    const missing = this.missing + absent;
    const distinct = this.distinct();
    let numeric: ColumnSummary['numeric'] = null;
    if (this.n > 0) {
      const variance = this.n > 1 ? this.m2 / (this.n - 1) : null;
      numeric = {
        count: this.n,
        min: this.min,
        max: this.max,
        mean: this.mean,
        variance,
        stddev: variance === null ? null : Math.sqrt(variance),
        quantiles: Object.fromEntries(QUANTILES.map((q) => [`p${Math.round(q * 100)}`, this.quantile(q)!])),
        histogram: this.histogram(),
      };
    }
    return {
      type: this.type(),
      count,
      missing,
      missingFraction: count === 0 ? 0 : missing / count,
      kinds: { ...this.kinds },
      distinct: distinct.value,
      distinctExact: distinct.exact,
      nan: this.nan,
      infinite: this.positiveInfinity + this.negativeInfinity,
      numeric,
      text: this.maxLength >= 0 ? { minLength: this.minLength, maxLength: this.maxLength } : null,
      top: this.frequent.top(TOP_K).map(([value, c]) => ({ value, count: c })),
    };
  }

  /** Equal-width bins over [min, max], filled from the sketch's bins (each within 1% of its values). */
  private histogram(): { lower: number; upper: number; count: number }[] {
    if (this.min === this.max) return [{ lower: this.min, upper: this.max, count: this.n }];
    const width = (this.max - this.min) / HISTOGRAM_BINS;
    const bins = Array.from({ length: HISTOGRAM_BINS }, (_, i) => ({ lower: this.min + i * width, upper: i === HISTOGRAM_BINS - 1 ? this.max : this.min + (i + 1) * width, count: 0 }));
    for (const { value, count } of this.sketchBins()) {
      const clamped = Math.min(this.max, Math.max(this.min, value));
      const i = Math.min(HISTOGRAM_BINS - 1, Math.floor((clamped - this.min) / width));
      bins[i]!.count += count;
    }
    return bins;
  }
}
