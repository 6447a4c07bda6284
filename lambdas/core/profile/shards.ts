import { CdkMlopsError } from '../errors';

/*
 * Splitting one dataset file into shards that are profiled in parallel (a Step
 * Functions Distributed Map) and merged.
 *
 * Text files (CSV, TSV, JSON Lines) split into byte ranges. A shard owns the
 * rows that *start* inside its range: it skips to the first row boundary at or
 * after its start and reads on past its end to finish its last row, so every
 * row is read by exactly one shard. A shard cannot see the quotes before its
 * start, so it takes the first newline as its first boundary (true unless a
 * quoted value contains a newline there), and notes where its first row would
 * start if its start were outside quotes and if it were inside, and counts the
 * quote characters in its range. The merge knows the truth (the parity of the
 * quotes before each shard: RFC 4180 escapes a quote by doubling it) and checks
 * each shard's first row against it. Only a quoted value with a newline near a
 * shard start can make them differ; then the shards are refused and the file
 * is profiled in one pass instead. JSON Lines cannot have a raw newline inside
 * a value, so every newline is a boundary.
 *
 * Parquet splits by row groups.
 */

export interface ByteShard {
  readonly index: number;
  /** First byte of the range (inclusive). */
  readonly start: number;
  /** End of the range (exclusive). */
  readonly end: number;
}

export interface RowGroupShard {
  readonly index: number;
  /** First row (0-based, inclusive) and end row (exclusive); always whole row groups. */
  readonly rowStart: number;
  readonly rowEnd: number;
}

export type Shard = ByteShard | RowGroupShard;

export const isByteShard = (s: Shard): s is ByteShard => 'start' in s;

/** A shard plan or merge that cannot be used. */
export class ShardingError extends CdkMlopsError {}

/** Byte ranges of about `shardBytes` each (more bytes per shard when `maxShards` would be exceeded). */
export function planByteShards(size: number, shardBytes: number, maxShards: number): ByteShard[] {
  if (!Number.isInteger(size) || size < 0) throw new ShardingError(`size: expected a whole number of bytes (got ${size})`);
  if (!Number.isInteger(shardBytes) || shardBytes < 1) throw new ShardingError(`shardBytes: expected a whole number >= 1 (got ${shardBytes})`);
  if (!Number.isInteger(maxShards) || maxShards < 1) throw new ShardingError(`maxShards: expected a whole number >= 1 (got ${maxShards})`);
  if (size === 0) return [{ index: 0, start: 0, end: 0 }];
  const bytes = Math.max(shardBytes, Math.ceil(size / maxShards));
  const out: ByteShard[] = [];
  for (let start = 0, index = 0; start < size; start += bytes, index++) out.push({ index, start, end: Math.min(size, start + bytes) });
  return out;
}

/** Consecutive row groups of about `shardBytes` (compressed) each, at most `maxShards` shards. */
export function planRowGroupShards(rowGroups: readonly { readonly rows: number; readonly bytes: number }[], shardBytes: number, maxShards: number): RowGroupShard[] {
  if (rowGroups.length === 0) return [{ index: 0, rowStart: 0, rowEnd: 0 }];
  const total = rowGroups.reduce((s, g) => s + g.bytes, 0);
  const target = Math.max(shardBytes, Math.ceil(total / maxShards));
  const out: RowGroupShard[] = [];
  let rowStart = 0;
  let rows = 0;
  let bytes = 0;
  for (const g of rowGroups) {
    if (bytes > 0 && bytes + g.bytes > target && out.length < maxShards - 1) {
      out.push({ index: out.length, rowStart, rowEnd: rowStart + rows });
      rowStart += rows;
      rows = 0;
      bytes = 0;
    }
    rows += g.rows;
    bytes += g.bytes;
  }
  out.push({ index: out.length, rowStart, rowEnd: rowStart + rows });
  return out;
}

/** Where a shard's reader should start: one byte early, to see whether its start follows a newline. */
export const shardReadStart = (shard: ByteShard): number => Math.max(0, shard.start - 1);

export const NEWLINE = 0x0a;
export const QUOTE = 0x22;
const CR = 0x0d;

/**
 * Where the first row of CSV/TSV bytes ends: the index after the newline that
 * closes it, quotes respected; blank lines before it (empty, or a lone CR) are
 * skipped, as papaparse skips them. -1 when no row ends within `length` bytes.
 */
export function firstRowEnd(bytes: Uint8Array, length = bytes.length): number {
  let inQuotes = false;
  let lineStart = 0;
  for (let i = 0; i < length; i++) {
    const b = bytes[i]!;
    if (b === QUOTE) inQuotes = !inQuotes;
    else if (b === NEWLINE && !inQuotes) {
      const blank = i === lineStart || (i - lineStart === 1 && bytes[lineStart] === CR);
      if (!blank) return i + 1;
      lineStart = i + 1;
    }
  }
  return -1;
}

/** What a shard saw, for the merge's check. */
export interface ShardScan {
  /** Quote characters inside the shard's byte range. */
  quotes: number;
  /** Where the rows the shard read start; the range's end when it read none. */
  read: number;
  /**
   * Where the shard's first row truly starts if its start is outside quotes
   * ([0]) and if it is inside ([1]); the range's end when no row starts in it.
   */
  firstRow: [number, number];
}

/** A fresh scan for `shard`. */
export const newShardScan = (shard: ByteShard): ShardScan => (shard.start === 0 ? { quotes: 0, read: 0, firstRow: [0, 0] } : { quotes: 0, read: shard.end, firstRow: [shard.end, shard.end] });

/**
 * The bytes of the rows that start in `shard`'s range, given the file's bytes
 * from `shardReadStart(shard)` onwards. The source may go on to the end of the
 * file; it is not read further than the shard's last row. `quoted`: CSV/TSV
 * quoting applies (false for JSON Lines).
 */
export async function* shardRows(source: AsyncIterable<Uint8Array>, shard: ByteShard, quoted: boolean, scan: ShardScan): AsyncGenerator<Uint8Array> {
  const { start, end } = shard;
  let pos = shardReadStart(shard);
  let inRows = start === 0; // shard 0 starts at a row; others at the first newline
  const found = [start === 0, start === 0]; // firstRow[0], firstRow[1] settled
  let inQuotes = false; // quote parity since `start` (as if it were outside quotes)
  let rowParity = false; // `inQuotes` at the first row read: inside those rows, quoted iff inQuotes !== rowParity
  for await (const chunk of source) {
    let from = inRows ? 0 : chunk.length; // first byte of `chunk` to emit
    for (let i = 0; i < chunk.length; i++, pos++) {
      const b = chunk[i]!;
      if (pos < start) {
        // the byte before the range: a newline there means the range starts a row (if outside quotes)
        if (b === NEWLINE) {
          inRows = true;
          from = i + 1;
          scan.read = scan.firstRow[0] = start;
          found[0] = true;
        }
        continue;
      }
      if (b === QUOTE && quoted) {
        if (pos < end) scan.quotes++;
        inQuotes = !inQuotes;
        continue;
      }
      if (b !== NEWLINE) continue;
      const next = pos + 1;
      const side = inQuotes ? 1 : 0; // a boundary if the range started outside (0) / inside (1) quotes
      if (!found[side] && next < end) {
        found[side] = true;
        scan.firstRow[side] = next;
      }
      if (!inRows) {
        if (next >= end) return; // no row starts in this range
        inRows = true;
        from = i + 1;
        scan.read = next;
        rowParity = inQuotes;
        continue;
      }
      if (inQuotes !== rowParity) continue; // inside a quoted value of the rows being read
      if (next >= end) {
        if (i + 1 > from) yield chunk.subarray(from, i + 1);
        return;
      }
    }
    if (inRows && from < chunk.length) yield chunk.subarray(from);
    else if (!inRows && pos >= end) return;
  }
}

/** Result of one profiled shard, as the state machine carries it. */
export interface ShardResult {
  readonly index: number;
  /** Key of the shard's profile in the artifacts bucket. */
  readonly key: string;
  readonly rows: number;
  /** What the byte shard saw (absent for row-group shards). */
  readonly scan?: ShardScan;
}

/** A shard that could not be profiled: why, and what it saw before it stopped. */
export interface ShardFailure {
  readonly index: number;
  readonly error: string;
  readonly scan?: ShardScan;
}

export type ShardOutcome = ShardResult | ShardFailure;

export const isShardFailure = (o: ShardOutcome): o is ShardFailure => 'error' in o;

/**
 * Why the shards cannot be merged, or undefined when they are exact. In shard
 * order: a missing result; a byte shard that did not read from its true first
 * row, given the parity of the quotes before it (it then ends right too: it
 * tracked quotes from a true row start); a shard that failed. A misread shard
 * usually fails to parse too; the misreading is the reason given.
 */
export function shardsProblem(shards: readonly Shard[], outcomes: readonly ShardOutcome[]): string | undefined {
  const byIndex = new Map(outcomes.map((r) => [r.index, r]));
  let before = 0;
  for (const shard of [...shards].sort((a, b) => a.index - b.index)) {
    const outcome = byIndex.get(shard.index);
    const where = isByteShard(shard) ? `bytes ${shard.start}–${shard.end}` : `rows ${shard.rowStart + 1}–${shard.rowEnd}`;
    if (!outcome) return `shard ${shard.index} (${where}) has no result`;
    const scan = outcome.scan;
    if (isByteShard(shard)) {
      if (!scan) return `shard ${shard.index} (${where}) has no scan`;
      const truth = scan.firstRow[before % 2]!;
      if (truth !== scan.read) return `shard ${shard.index} (${where}) is cut inside a quoted value that contains a newline: its first row starts at byte ${truth}, not ${scan.read}`;
    }
    if (isShardFailure(outcome)) return `shard ${shard.index}: ${outcome.error}`;
    before += scan?.quotes ?? 0;
  }
  return undefined;
}
