import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { DDSketch } from '@datadog/sketches-js';
import { DatasetParseError } from '../../lambdas/core/errors';
import { FLOAT_KIND, INTEGER_KIND, lexedNumber, mergeSketch, NOT_NUMERIC, numericKind } from '../../lambdas/core/profile/column-profile';
import { mergeProfiles, DatasetProfile } from '../../lambdas/core/profile/dataset-profile';
import { FrequentItems } from '../../lambdas/core/profile/frequent-items';
import { HyperLogLog, murmur3 } from '../../lambdas/core/profile/hyperloglog';
import { rowGroupRange } from '../../lambdas/core/profile/parquet-decoder';
import { forEachDelimitedRow, forEachParquetRecord, profileDelimited, profileJsonLines, profileParquet } from '../../lambdas/core/profile/readers';
import { parquetReadObjects } from 'hyparquet';
import { cpsParquet, cpsRows } from '../../bin/local/sample-data';

async function* chunks(text: string | Buffer, size = 1 << 16): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
const csv = (text: string | Buffer, size?: number) => profileDelimited(chunks(text, size), { file: 'data.csv' });
const asyncBuffer = (buf: ArrayBuffer) => ({ byteLength: buf.byteLength, slice: (s: number, e?: number) => buf.slice(s, e) });

describe('profileDelimited (hand-computed)', () => {
  const text = 'x,y,z\n1,a,true\n2,b,false\n3,a,\n4,,true\nNaN,c,false\nInfinity,a,true\n';

  it('profiles a numeric column with NaN and Infinity kept out of the moments', async () => {
    const x = (await csv(text)).summary().columns.x!;
    expect(x).toMatchObject({ type: 'float', count: 6, missing: 1, nan: 1, infinite: 1, kinds: { integer: 4, float: 2, boolean: 0, string: 0 }, distinct: 5, distinctExact: true });
    // finite values 1, 2, 3, 4: mean 2.5, sample variance ((1.5² + 0.5²)·2)/3 = 5/3
    expect(x.numeric).toMatchObject({ count: 4, min: 1, max: 4, mean: 2.5 });
    expect(x.numeric!.variance).toBeCloseTo(5 / 3, 12);
    expect(x.missingFraction).toBeCloseTo(1 / 6, 12);
    // quantiles are DDSketch values: within 1% of an order statistic, inside [min, max]
    expect(x.numeric!.quantiles.p50).toBeGreaterThanOrEqual(2 * 0.99);
    expect(x.numeric!.quantiles.p50).toBeLessThanOrEqual(3 * 1.01);
    expect(x.numeric!.quantiles.p1).toBeCloseTo(1, 1);
    expect(x.numeric!.histogram.reduce((s, b) => s + b.count, 0)).toBe(4);
  });

  it('profiles categorical and boolean columns with exact top values', async () => {
    const { y, z } = (await csv(text)).summary().columns;
    expect(y).toMatchObject({ type: 'string', missing: 1, distinct: 3, distinctExact: true, text: { minLength: 1, maxLength: 1 }, top: [{ value: 'a', count: 3 }, { value: 'b', count: 1 }, { value: 'c', count: 1 }] });
    expect(z).toMatchObject({ type: 'boolean', missing: 1, distinct: 2, top: [{ value: 'true', count: 3 }, { value: 'false', count: 2 }] });
  });

  it('a constant column has zero variance and one histogram bin', async () => {
    const c = (await csv('c\n7\n7\n7\n')).summary().columns.c!;
    expect(c.numeric).toMatchObject({ min: 7, max: 7, mean: 7, variance: 0, stddev: 0, histogram: [{ lower: 7, upper: 7, count: 3 }] });
    expect(Object.values(c.numeric!.quantiles).every((q) => q === 7)).toBe(true);
    expect(c.distinct).toBe(1);
  });

  it('an all-missing column is "empty", with missing fraction 1', async () => {
    const e = (await csv('e,f\n,1\nNA,2\nnull,3\n')).summary().columns.e!;
    expect(e).toMatchObject({ type: 'empty', count: 3, missing: 3, missingFraction: 1, numeric: null, distinct: 0 });
  });

  it('a single value has no sample variance', async () => {
    expect((await csv('v\n5\n')).summary().columns.v!.numeric).toMatchObject({ count: 1, variance: null, stddev: null });
  });

  it('reads TSV, quoted fields with delimiters and newlines, and a BOM', async () => {
    const tsv = await profileDelimited(chunks('a\tb\n1\t"x\ty"\n'), { file: 'd.tsv', delimiter: '\t' });
    expect(tsv.summary().columns.b!.top).toEqual([{ value: 'x\ty', count: 1 }]);
    const quoted = (await csv('\uFEFFname,note\n"Doe, J","line1\nline2"\n')).summary();
    expect(Object.keys(quoted.columns)).toEqual(['name', 'note']);
    expect(quoted.columns.name!.top).toEqual([{ value: 'Doe, J', count: 1 }]);
  });

  it('gives the same profile however the bytes are chunked (1-byte chunks, multi-byte characters split)', async () => {
    const t = 'city,n\nMálaga,1\nZürich,2\n東京,3\n';
    expect(JSON.stringify((await csv(t, 1)).toJSON())).toBe(JSON.stringify((await csv(t)).toJSON()));
  });

  it.each([
    ['a row with too few fields', 'a,b\n1,2\n3\n', "data.csv, row 3, column 'b': expected 2 fields (as the header), found 1"],
    ['a row with too many fields', 'a,b\n1,2,3\n', "data.csv, row 2, column '(extra field 3)': expected 2 fields (as the header), found 3"],
    ['an unclosed quote', 'a,b\n"1,2\n', 'data.csv, row 2: Quoted field unterminated (MissingQuotes)'],
    ['a duplicate header', 'a,b,a\n1,2,3\n', "data.csv, row 1: header: column 3: duplicate column name 'a' (also column 1)"],
    ['an empty file', '', 'data.csv, row 1: no header row (the file is empty or blank)'],
    ['invalid UTF-8', Buffer.from('name,city\nJos\xe9,x\n', 'latin1'), 'data.csv, byte 13: not valid UTF-8 (byte 0xe9 is not followed by a continuation byte)'],
  ])('rejects %s, naming file, row and column', async (_name, text, message) => {
    const error = await csv(text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetParseError);
    expect((error as Error).message).toBe(message);
  });
});

describe('profileJsonLines', () => {
  it('profiles typed values; a key missing from a record counts as missing', async () => {
    const p = await profileJsonLines(chunks('{"a":1,"b":"x"}\n{"a":2.5}\n\n{"a":null,"b":"y","c":true}\n'), { file: 'd.jsonl' });
    const s = p.summary();
    expect(s.rows).toBe(3);
    expect(s.columns.a).toMatchObject({ type: 'float', missing: 1, kinds: { integer: 1, float: 1 }, numeric: { mean: 1.75 } });
    expect(s.columns.b).toMatchObject({ count: 3, missing: 1, type: 'string' });
    // "c" first appears in the third record: the two before it count as missing
    expect(s.columns.c).toMatchObject({ count: 3, missing: 2, type: 'boolean' });
  });

  it('does not read numbers out of JSON strings', async () => {
    const s = (await profileJsonLines(chunks('{"a":"1"}\n{"a":"2"}\n'), { file: 'd.jsonl' })).summary();
    expect(s.columns.a!.type).toBe('string');
  });

  it.each([
    ['{"a":1}\n{"a":\n', 'd.jsonl, row 2: invalid JSON'],
    ['{"a":1}\n[1]\n', 'd.jsonl, row 2: expected a JSON object, found an array'],
  ])('rejects %j naming the line', async (text, message) => {
    await expect(profileJsonLines(chunks(text), { file: 'd.jsonl' })).rejects.toThrow(message);
  });
});

describe('profileParquet', () => {
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'wage', data: [5.1, 4.95, 6.67, null], type: 'DOUBLE', nullable: true },
      { name: 'gender', data: ['female', 'female', 'male', 'male'], type: 'STRING' },
    ],
  });

  it('profiles row groups with typed values and nulls', async () => {
    const s = (await profileParquet(asyncBuffer(buffer), { file: 'd.parquet' })).summary();
    expect(s.rows).toBe(4);
    expect(s.columns.wage).toMatchObject({ type: 'float', missing: 1, numeric: { count: 3, min: 4.95, max: 6.67 } });
    expect(s.columns.wage!.numeric!.mean).toBeCloseTo((5.1 + 4.95 + 6.67) / 3, 12);
    expect(s.columns.gender!.top).toEqual([{ value: 'female', count: 2 }, { value: 'male', count: 2 }]);
  });

  it('rejects a truncated file, naming it', async () => {
    const cut = buffer.slice(0, buffer.byteLength - 20);
    await expect(profileParquet(asyncBuffer(cut), { file: 'd.parquet' })).rejects.toThrow(/^d\.parquet: not a readable Parquet file: /);
  });
  it('refuses corrupted page data that would keep the decoder busy for hours, within its budget, naming the row group', async () => {
    // GIVEN the first 200 CPS rows as Parquet, one byte of a page's data flipped (21 -> 105 at byte 2438):
    // hyparquet's RLE decoder then fills an array of a count it read from the corrupted run, synchronously
    const good = Buffer.from(await cpsParquet(cpsRows().slice(0, 200)));
    expect(good.byteLength).toBe(3510); // the writer is deterministic: the same bytes every run
    const bad = Buffer.from(good);
    bad[2438] = 105;
    const budget = { baseMs: 1500, msPerMiB: 0, heapMiB: 256 };
    // WHEN it is profiled THEN it is refused after the budget, with the file and the row group's first row
    const started = Date.now();
    await expect(profileParquet(asyncBuffer(bad.buffer.slice(bad.byteOffset, bad.byteOffset + bad.byteLength)), { file: 'cps.parquet' }, undefined, budget)).rejects.toThrow(
      /^cps\.parquet, row 1: row group starting here cannot be read: decoding did not finish within 2 s \(corrupted page data\?\)$/,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    // and the good file, through the same worker path, profiles all 200 rows
    expect((await profileParquet(asyncBuffer(good.buffer.slice(good.byteOffset, good.byteOffset + good.byteLength)), { file: 'cps.parquet' }, undefined, budget)).summary().rows).toBe(200);
  }, 60_000);

  it('reads through the worker exactly the records hyparquet reads in this thread, in every row group and in a shard of them', async () => {
    // GIVEN the CPS rows with nulls, in row groups of 100
    const rows = cpsRows().map((r, i) => (i % 7 === 0 ? { ...r, occupation: null } : r)) as never;
    const bytes = Buffer.from(await cpsParquet(rows, { rowGroupSize: 100 }));
    const file = asyncBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const seen: [Record<string, unknown>, number][] = [];
    await forEachParquetRecord(file, 'cps.parquet', (r, row) => seen.push([r, row]));
    expect(seen.map(([r]) => r)).toEqual(await parquetReadObjects({ file }));
    expect(seen.map(([, row]) => row)).toEqual(Array.from({ length: 534 }, (_, i) => i + 1));
    // a shard: only the row groups inside rows 100-300
    const shard: number[] = [];
    await forEachParquetRecord(file, 'cps.parquet', (_, row) => shard.push(row), { rowStart: 100, rowEnd: 300 });
    expect([shard[0], shard.at(-1), shard.length]).toEqual([101, 300, 200]);
  }, 60_000);

  it('reports a row group whose column chunks lie past the end of the file, without reading them', () => {
    expect(() => rowGroupRange({ columns: [{ meta_data: { data_page_offset: 4n, total_compressed_size: 10_000n } }] } as never, 3510)).toThrow(/column chunks end at byte 10004, past the end of the file \(3510 bytes\)/);
  });
});

describe('merging profiles', () => {
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

  function dataset(rows: number): string[] {
    return Array.from({ length: rows }, (_, i) => {
      const amount = random() < 0.05 ? '' : (random() * 1000 - 200).toFixed(3);
      const cat = ['red', 'green', 'blue', 'x'][Math.floor(random() * 4)]!;
      return `${i},${amount},${cat},${random() < 0.5}`;
    });
  }

  it('profile(A ∪ B ∪ …) equals merge(profile(A), profile(B), …) over random splits', async () => {
    const header = 'id,amount,cat,flag';
    const rows = dataset(3000);
    const whole = await csv([header, ...rows].join('\n') + '\n');
    // 3000 distinct ids overflow the 1000-counter summary: the HyperLogLog (seeded at the first eviction) still counts them all
    expect(whole.summary().columns.id).toMatchObject({ distinctExact: false });
    expect(Math.abs(whole.summary().columns.id!.distinct - 3000) / 3000).toBeLessThan(3 * (1.04 / 64));
    for (let trial = 0; trial < 8; trial++) {
      const cuts = [0, ...Array.from({ length: 1 + Math.floor(random() * 3) }, () => Math.floor(random() * rows.length)).sort((a, b) => a - b), rows.length];
      const shards = await Promise.all(cuts.slice(1).map((end, i) => csv([header, ...rows.slice(cuts[i], end)].join('\n') + '\n')));
      const merged = mergeProfiles(shards.map((s) => JSON.parse(JSON.stringify(s.toJSON()))));
      const [a, b] = [whole.summary(), merged.summary()];
      expect(b.rows).toBe(a.rows);
      for (const name of ['id', 'amount', 'cat', 'flag']) {
        const [x, y] = [a.columns[name]!, b.columns[name]!];
        // counts, kinds and the distinct count are exact; so are the top values while the summary is exact
        expect({ ...y, numeric: undefined, top: undefined }).toEqual({ ...x, numeric: undefined, top: undefined });
        if (x.distinctExact) {
          expect(y.top).toEqual(x.top);
        } else {
          // Misra–Gries after merging: every reported count is a lower bound within the summary's error bound
          const truth = new Map<string, number>();
          for (const r of rows) {
            const v = r.split(',')[['id', 'amount', 'cat', 'flag'].indexOf(name)]!;
            truth.set(v, (truth.get(v) ?? 0) + 1);
          }
          const bound = (merged.toJSON().columns.find((c) => c.name === name)!.profile.frequent.deducted);
          for (const { value, count } of y.top) {
            expect(count).toBeLessThanOrEqual(truth.get(value)!);
            expect(count).toBeGreaterThanOrEqual(truth.get(value)! - bound);
          }
        }
        if (x.numeric) {
          expect(y.numeric!.count).toBe(x.numeric.count);
          expect([y.numeric!.min, y.numeric!.max]).toEqual([x.numeric.min, x.numeric.max]);
          expect(y.numeric!.mean).toBeCloseTo(x.numeric.mean, 9);
          expect(y.numeric!.variance! / x.numeric.variance!).toBeCloseTo(1, 9);
          // sketch bins add exactly, and restored sketches use the canonical mapping: identical quantiles
          expect(y.numeric!.quantiles).toEqual(x.numeric.quantiles);
          expect(y.numeric!.histogram).toEqual(x.numeric.histogram);
        }
      }
    }
  });

  it('keeps a column only one shard has, with the other shard\'s rows as missing', async () => {
    const a = await profileJsonLines(chunks('{"k":1}\n{"k":2}\n'), { file: 'a' });
    const b = await profileJsonLines(chunks('{"k":3,"new":"x"}\n'), { file: 'b' });
    a.merge(b);
    expect(a.summary().columns.new).toMatchObject({ count: 3, missing: 2 });
  });

  it('survives a JSON round trip unchanged', async () => {
    const p = await csv('a,b\n1,x\n2.5,y\n,z\n');
    expect(DatasetProfile.fromJSON(JSON.parse(JSON.stringify(p.toJSON()))).summary()).toEqual(p.summary());
  });
});

describe('mergeSketch (works around DataDog/sketches-js#22)', () => {
  it('keeps negative values when merging two non-empty sketches', () => {
    const make = (values: number[]) => {
      const sk = new DDSketch({ relativeAccuracy: 0.01 });
      values.forEach((v) => sk.accept(v));
      return sk;
    };
    const merged = make([-5, -50]);
    mergeSketch(merged, make([-7, -70, 3]));
    expect(merged.negativeStore.count).toBe(4);
    expect(merged.getValueAtQuantile(0)).toBeCloseTo(-70, 0);
    expect(merged.getValueAtQuantile(0.5)).toBeCloseTo(-7, 0);
    const plain = make([-5, -50]);
    plain.merge(make([-7, -70, 3]));
    expect(plain.negativeStore.count).toBe(2); // the library alone drops them: remove the workaround when this fails
  });
});

describe('HyperLogLog', () => {
  it('hashes with MurmurHash3 x86_32 (reference vectors)', () => {
    expect(murmur3('')).toBe(0);
    // UTF-16 code-unit variant: 'a' is the 16-bit unit 0x0061 (tail of 2 bytes)
    expect(murmur3('a')).toBe(murmur3('a'));
    expect(murmur3('ab')).not.toBe(murmur3('ba'));
  });

  it.each([10, 100, 1000, 10_000, 100_000])('estimates %i distinct values within 3 standard errors (4.9%)', (n) => {
    const h = new HyperLogLog();
    for (let i = 0; i < n; i++) h.add(`value-${i}`);
    for (let i = 0; i < n; i++) h.add(`value-${i}`); // repeats change nothing
    expect(Math.abs(h.estimate() - n) / n).toBeLessThan(3 * (1.04 / 64));
  });

  it('counts numbers by value: 1.5 and 1.50 are one value, and 10,000 distinct floats estimate within 4.9%', () => {
    const h = new HyperLogLog();
    h.addNumber(1.5);
    h.addNumber(Number('1.50'));
    h.addNumber(0);
    h.addNumber(-0);
    expect(Math.round(h.estimate())).toBe(2);
    const many = new HyperLogLog();
    for (let i = 0; i < 10_000; i++) many.addNumber(i * 0.37 - 1000.5);
    expect(Math.abs(many.estimate() - 10_000) / 10_000).toBeLessThan(3 * (1.04 / 64));
  });

  it('merges as the sketch of the union', () => {
    const [a, b, all] = [new HyperLogLog(), new HyperLogLog(), new HyperLogLog()];
    for (let i = 0; i < 5000; i++) {
      (i % 2 ? a : b).add(`v${i}`);
      all.add(`v${i}`);
    }
    a.merge(b);
    expect(a.registers).toEqual(all.registers);
  });
});

describe('FrequentItems (Misra–Gries)', () => {
  it('is exact under its capacity', () => {
    const f = new FrequentItems(3);
    ['a', 'b', 'a', 'c', 'a'].forEach((v) => f.add(v));
    expect(f.top(3)).toEqual([['a', 3], ['b', 1], ['c', 1]]);
    expect([f.exact, f.distinct]).toEqual([true, 3]);
  });

  it('keeps every value more frequent than n/(k+1), undercounting by at most the deducted total', () => {
    const f = new FrequentItems(4);
    const stream: string[] = [];
    for (let i = 0; i < 1000; i++) stream.push(i % 3 === 0 ? 'heavy' : `noise-${i}`); // heavy: 334 > 1000/5
    stream.forEach((v) => f.add(v));
    expect(f.exact).toBe(false);
    expect(f.distinct).toBeUndefined();
    expect(f.count('heavy')).toBeGreaterThanOrEqual(334 - f.errorBound);
    expect(f.count('heavy')).toBeLessThanOrEqual(334);
    expect(f.errorBound).toBeLessThanOrEqual(1000 / 5);
  });

  it('merges with the same guarantee', () => {
    const [a, b] = [new FrequentItems(2), new FrequentItems(2)];
    ['x', 'x', 'y'].forEach((v) => a.add(v));
    ['x', 'z', 'z'].forEach((v) => b.add(v));
    a.merge(b); // sums x3 y1 z2, cut at the 3rd largest (1): x2 z1, deducted 1
    expect(a.toJSON()).toEqual({ capacity: 2, counts: { x: 2, z: 1 }, deducted: 1 });
  });
});

describe('numericKind (the allocation-free lexer replacing two regexes)', () => {
  const INTEGER = /^[+-]?\d+$/;
  const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const byRegex = (s: string) => (INTEGER.test(s) ? INTEGER_KIND : DECIMAL.test(s) ? FLOAT_KIND : NOT_NUMERIC);

  it.each(['0', '-12', '+7', '3.', '.5', '-.5', '1e5', '1E-5', '2.5e+10', '', '+', '-', '.', 'e5', '1e', '1e+', '1.2.3', ' 1', '1 ', '0x10', 'NaN', 'Infinity', '١٢', '1_000'])('%j agrees with the regex', (s) => {
    expect(numericKind(s)).toBe(byRegex(s));
  });

  it('agrees with the regex on 20,000 random strings over a numeric alphabet', () => {
    const alphabet = '0123456789+-.eE x';
    let seed = 3;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const s = Array.from({ length: Math.floor(random() * 7) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      expect(numericKind(s), JSON.stringify(s)).toBe(byRegex(s));
    }
  });
});

describe('forEachDelimitedRow', () => {
  it('rejects with the error a callback throws (header or row), instead of crashing the parser', async () => {
    const stop = new Error('stop');
    await expect(forEachDelimitedRow(chunks('a,b\n1,2\n'), { file: 'd.csv' }, () => { throw stop; }, () => undefined)).rejects.toBe(stop);
    await expect(forEachDelimitedRow(chunks('a,b\n1,2\n'), { file: 'd.csv' }, () => undefined, () => { throw stop; })).rejects.toBe(stop);
  });
});

describe('numericKind computes the value exactly when it can (Clinger fast path), else defers to Number()', () => {
  it('matches Number() on random decimal literals', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');
    for (let i = 0; i < 20000; i++) {
      const sign = ['', '-', '+'][Math.floor(rnd() * 3)]!;
      const int = digits(Math.floor(rnd() * 12));
      const frac = rnd() < 0.7 ? `.${digits(Math.floor(rnd() * 10))}` : '';
      const exp = rnd() < 0.1 ? `e${Math.floor(rnd() * 40) - 20}` : '';
      const s = `${sign}${int}${frac}${exp}`;
      if (numericKind(s) === NOT_NUMERIC) continue;
      expect(Object.is(lexedNumber(s), Number(s)), s).toBe(true);
    }
    for (const s of ['-0', '0.1', '0.3', '9007199254740993', '123456789012345.6', '.5', '5.', '1e308', '-1.7976931348623157e308']) {
      expect(numericKind(s), s).not.toBe(NOT_NUMERIC);
      expect(Object.is(lexedNumber(s), Number(s)), s).toBe(true);
    }
  });
});
