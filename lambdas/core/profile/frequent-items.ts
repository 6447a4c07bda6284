/*
 * Frequent items by the Misra–Gries summary: at most `capacity` counters; when a
 * new value finds them full, every counter is decremented (the value's own
 * occurrence included). Each reported count underestimates the true count by at
 * most `deducted` (≤ n / (capacity + 1)), and summaries merge with the same
 * guarantee (Agarwal et al., "Mergeable Summaries", 2012). While nothing has
 * been deducted, the counts are exact and so is the number of distinct values.
 */

export interface FrequentItemsState {
  readonly capacity: number;
  readonly counts: Record<string, number>;
  /** Total decremented from every counter so far: the error bound of each count. */
  readonly deducted: number;
}

/** A mutable count: a hit updates it in place (one hash lookup instead of get + set). */
interface Counter {
  n: number;
}

export class FrequentItems {
  private readonly counts = new Map<string, Counter>();
  private deducted = 0;

  constructor(readonly capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`FrequentItems: capacity must be a positive integer (got ${capacity})`);
  }

  add(value: string, weight = 1): void {
    const current = this.counts.get(value);
    if (current !== undefined) {
      current.n += weight;
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(value, { n: weight });
      return;
    }
    // Full: subtract the smaller of the new weight and the smallest counter from everything.
    let min = weight;
    for (const c of this.counts.values()) if (c.n < min) min = c.n;
    this.deducted += min;
    for (const [k, c] of this.counts) {
      if (c.n - min <= 0) this.counts.delete(k);
      else c.n -= min;
    }
    if (weight - min > 0) this.counts.set(value, { n: weight - min });
  }

  /** True when adding `value` would evict (the summary is full and does not hold it). */
  wouldEvict(value: string): boolean {
    return this.counts.size >= this.capacity && !this.counts.has(value);
  }

  /** The values held. */
  keys(): IterableIterator<string> {
    return this.counts.keys();
  }

  /** True while every count is exact. */
  get exact(): boolean {
    return this.deducted === 0;
  }

  get errorBound(): number {
    return this.deducted;
  }

  /** Distinct values, when exact; otherwise undefined. */
  get distinct(): number | undefined {
    return this.exact ? this.counts.size : undefined;
  }

  /** The `k` most frequent values, most frequent first (ties by value, for stable output). */
  top(k: number): [string, number][] {
    return [...this.counts]
      .map(([v, c]): [string, number] => [v, c.n])
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
      .slice(0, k);
  }

  /** Count of one value (a lower bound when not exact). */
  count(value: string): number {
    return this.counts.get(value)?.n ?? 0;
  }

  merge(other: FrequentItems): void {
    const summed = new Map<string, number>();
    for (const [k, c] of this.counts) summed.set(k, c.n);
    for (const [k, c] of other.counts) summed.set(k, (summed.get(k) ?? 0) + c.n);
    let deducted = this.deducted + other.deducted;
    if (summed.size > this.capacity) {
      // Subtract the (capacity+1)-th largest count and keep what stays positive.
      const cut = [...summed.values()].sort((a, b) => b - a)[this.capacity]!;
      deducted += cut;
      for (const [k, c] of summed) {
        if (c - cut <= 0) summed.delete(k);
        else summed.set(k, c - cut);
      }
    }
    this.counts.clear();
    for (const [k, c] of summed) this.counts.set(k, { n: c });
    this.deducted = deducted;
  }

  toJSON(): FrequentItemsState {
    return { capacity: this.capacity, counts: Object.fromEntries([...this.counts].map(([k, c]) => [k, c.n])), deducted: this.deducted };
  }

  static fromJSON(state: FrequentItemsState): FrequentItems {
    const f = new FrequentItems(state.capacity);
    for (const [k, c] of Object.entries(state.counts)) f.counts.set(k, { n: c });
    f.deducted = state.deducted;
    return f;
  }
}
