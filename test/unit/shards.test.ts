import { describe, expect, it } from 'vitest';
import { firstRowEnd, newShardScan, planByteShards, planRowGroupShards, shardsProblem, shardReadStart, shardRows, ShardingError, type ByteShard, type ShardResult, type ShardScan } from '../../lambdas/core/profile/shards';
import { rng } from '../helpers/random';


async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function cut(bytes: Uint8Array, shard: ByteShard, quoted: boolean, chunkSize: number): Promise<{ rows: Uint8Array; scan: ShardScan }> {
  const scan = newShardScan(shard);
  const parts: Uint8Array[] = [];
  for await (const part of shardRows(chunks(bytes.subarray(shardReadStart(shard)), chunkSize), shard, quoted, scan)) parts.push(part);
  return { rows: Buffer.concat(parts), scan };
}

/** Cuts the whole file into shards and returns the concatenated rows and the merge check. */
async function shardAll(text: string, shardBytes: number, quoted: boolean, chunkSize: number): Promise<{ joined: string; problem: string | undefined; pieces: string[] }> {
  const bytes = new TextEncoder().encode(text);
  const shards = planByteShards(bytes.length, shardBytes, 10_000);
  const pieces: string[] = [];
  const results: ShardResult[] = [];
  for (const s of shards) {
    const { rows, scan } = await cut(bytes, s, quoted, chunkSize);
    pieces.push(new TextDecoder().decode(rows));
    results.push({ index: s.index, key: `k${s.index}`, rows: 0, scan });
  }
  return { joined: pieces.join(''), problem: shardsProblem(shards, results), pieces };
}

function randomCsv(r: () => number, rows: number, newlinesInQuotes: boolean): string {
  const cell = (): string => {
    const kind = r();
    if (kind < 0.5) return String(Math.floor(r() * 1000));
    const alphabet = newlinesInQuotes ? 'ab,"\n é' : 'ab," é';
    let s = '';
    for (let i = Math.floor(r() * 6); i > 0; i--) s += alphabet[Math.floor(r() * alphabet.length)];
    return /[,"\n]/.test(s) || kind < 0.7 ? `"${s.replace(/"/g, '""')}"` : s;
  };
  let out = 'a,b,c\n';
  for (let i = 0; i < rows; i++) out += `${cell()},${cell()},${cell()}${r() < 0.1 ? '\r\n' : '\n'}`;
  return r() < 0.5 ? out : out.replace(/\r?\n$/, '');
}

describe('firstRowEnd', () => {
  it.each([
    ['a,b\n1,2\n', 4],
    ['\r\n\r\na,b\r\n1,2\r\n', 9], // blank lines before the header are skipped, as papaparse does
    ['\n\na,b\n', 6],
    ['"a\nb",c\n1,2\n', 8], // a quoted newline does not end the row
    [' \na,b\n', 2], // a line of spaces is a row for papaparse, so it is the first row
    ['a,b', -1],
  ])('%j ends its first row at %i', (text, end) => {
    expect(firstRowEnd(new TextEncoder().encode(text))).toBe(end);
  });
});

describe('planByteShards', () => {
  it.each([
    [0, 10, 5, [[0, 0]]],
    [25, 10, 5, [[0, 10], [10, 20], [20, 25]]],
    [30, 10, 5, [[0, 10], [10, 20], [20, 30]]],
    [100, 10, 4, [[0, 25], [25, 50], [50, 75], [75, 100]]], // capped: bigger shards
  ])('size %i by %i (at most %i shards)', (size, bytes, max, expected) => {
    expect(planByteShards(size, bytes, max).map((s) => [s.start, s.end])).toEqual(expected);
  });

  it('names a bad argument', () => {
    expect(() => planByteShards(10, 0, 5)).toThrow(ShardingError);
    expect(() => planByteShards(10, 0, 5)).toThrow('shardBytes: expected a whole number >= 1 (got 0)');
    expect(() => planByteShards(-1, 5, 5)).toThrow('size: expected a whole number of bytes (got -1)');
  });
});

describe('planRowGroupShards', () => {
  it('groups whole row groups up to the byte target, and caps the count', () => {
    const groups = [{ rows: 10, bytes: 40 }, { rows: 10, bytes: 40 }, { rows: 5, bytes: 30 }, { rows: 20, bytes: 90 }];
    expect(planRowGroupShards(groups, 80, 100)).toEqual([
      { index: 0, rowStart: 0, rowEnd: 20 },
      { index: 1, rowStart: 20, rowEnd: 25 },
      { index: 2, rowStart: 25, rowEnd: 45 },
    ]);
    // at most 2 shards: the byte target grows to half the total (100), so groups fill up to it
    expect(planRowGroupShards(groups, 1, 2).map((s) => [s.rowStart, s.rowEnd])).toEqual([[0, 20], [20, 45]]);
    expect(planRowGroupShards([], 80, 10)).toEqual([{ index: 0, rowStart: 0, rowEnd: 0 }]);
  });
});

describe('shardRows: every row read by exactly one shard', () => {
  it('cuts a small CSV at row boundaries (hand-checked)', async () => {
    // bytes: "h\n" 0-1, "aa\n" 2-4, "bb\n" 5-7, "cc\n" 8-10
    const { pieces, problem } = await shardAll('h\naa\nbb\ncc\n', 4, true, 3);
    expect(pieces).toEqual(['h\naa\n', 'bb\n', 'cc\n']);
    expect(problem).toBeUndefined();
  });

  it('gives a range in which no row starts nothing', async () => {
    const { pieces } = await shardAll('h\n' + 'x'.repeat(20) + '\ny\n', 5, true, 7);
    expect(pieces.join('|')).toBe('h\n' + 'x'.repeat(20) + '\n||||y\n');
  });

  it.each([1, 3, 64, 4096])('reassembles random CSVs without newlines in quotes, chunks of %i bytes, and the check passes', async (chunkSize) => {
    const r = rng(chunkSize);
    for (let trial = 0; trial < 30; trial++) {
      const csv = randomCsv(r, 1 + Math.floor(r() * 40), false);
      const { joined, problem } = await shardAll(csv, 1 + Math.floor(r() * 60), true, chunkSize);
      expect(problem).toBeUndefined();
      expect(joined).toBe(csv);
    }
  });

  it('with newlines inside quoted fields: either exact, or the merge check refuses the shards', async () => {
    const r = rng(7);
    let refused = 0;
    for (let trial = 0; trial < 200; trial++) {
      const csv = randomCsv(r, 1 + Math.floor(r() * 30), true);
      const { joined, problem } = await shardAll(csv, 1 + Math.floor(r() * 40), true, 1 + Math.floor(r() * 50));
      if (problem === undefined) expect(joined).toBe(csv);
      else {
        refused++;
        expect(problem).toMatch(/^shard \d+ \(bytes \d+–\d+\) is cut inside a quoted value that contains a newline: its first row starts at byte \d+, not \d+$/);
      }
    }
    expect(refused).toBeGreaterThan(10); // the case really occurs in the sample
  });

  it('JSON Lines: every newline is a boundary, quotes are not counted', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, s: `say "hi"\n${'z'.repeat(i % 7)}` })).join('\n') + '\n';
    for (const size of [1, 5, 17, 100]) {
      const { joined, problem } = await shardAll(lines, size, false, 13);
      expect(problem).toBeUndefined();
      expect(joined).toBe(lines);
    }
  });

  it('stops reading once its last row is complete', async () => {
    let pulled = 0;
    async function* counting(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield new TextEncoder().encode('row\n');
      }
    }
    const parts: Uint8Array[] = [];
    for await (const p of shardRows(counting(), { index: 0, start: 0, end: 10 }, true, newShardScan({ index: 0, start: 0, end: 10 }))) parts.push(p);
    expect(new TextDecoder().decode(Buffer.concat(parts))).toBe('row\nrow\nrow\n');
    expect(pulled).toBe(3);
  });
});

describe('shardsProblem', () => {
  const shards = planByteShards(30, 10, 10);
  const result = (index: number, quotes: number, read: number, firstRow: [number, number]): ShardResult => ({ index, key: '', rows: 1, scan: { quotes, read, firstRow } });
  it('gives the misreading as the reason when a misread shard also failed to parse, and a parse failure otherwise', () => {
    const failed = (index: number, read: number, firstRow: [number, number]) => ({ index, error: 'row 2: expected 3 fields', scan: { quotes: 0, read, firstRow } });
    expect(shardsProblem(shards, [result(0, 1, 0, [0, 0]), failed(1, 12, [12, 15]), result(2, 0, 21, [21, 21])])).toMatch(/^shard 1 \(bytes 10–20\) is cut inside a quoted value/);
    expect(shardsProblem(shards, [result(0, 2, 0, [0, 0]), failed(1, 12, [12, 15]), result(2, 0, 21, [21, 21])])).toBe('shard 1: row 2: expected 3 fields');
  });

  it('names a shard whose result is missing', () => {
    expect(shardsProblem(shards, [result(0, 0, 0, [0, 0])])).toBe('shard 1 (bytes 10–20) has no result');
  });
  it('accepts shards whose first rows are the true ones, whatever the quotes before them', () => {
    // three quotes before shard 1: it starts inside quotes, and its true first row (firstRow[1]) is where it read
    expect(shardsProblem(shards, [result(0, 3, 0, [0, 0]), result(1, 1, 14, [17, 14]), result(2, 0, 21, [21, 25])])).toBeUndefined();
  });
  it('refuses a shard that read from a newline inside a quoted value', () => {
    expect(shardsProblem(shards, [result(0, 1, 0, [0, 0]), result(1, 2, 12, [12, 15]), result(2, 0, 21, [21, 21])])).toBe('shard 1 (bytes 10–20) is cut inside a quoted value that contains a newline: its first row starts at byte 15, not 12');
  });
});
