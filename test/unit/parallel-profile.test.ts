import { describe, expect, it } from 'vitest';
import { cpsCsv, cpsJsonLines } from '../../bin/local/sample-data';
import type { DatasetProfile } from '../../lambdas/core/profile/dataset-profile';
import { profileInParallel } from '../../lambdas/core/profile/parallel';
import { profileDelimited, profileJsonLines } from '../../lambdas/core/profile/readers';
import { rng } from '../helpers/random';

/*
 * The multi-threaded profiler must give what the one-pass reader gives: the same
 * summaries, and the same errors with the same (absolute) rows. Tiny blocks make
 * every file cross many block boundaries.
 */

async function* chunks(text: string | Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}


function randomCsv(r: () => number, rows: number): string {
  const cell = (): string => {
    const k = r();
    if (k < 0.4) return String(Math.floor(r() * 100) - 20);
    if (k < 0.6) return (r() * 1000).toFixed(3);
    if (k < 0.65) return '';
    const alphabet = 'ab,"\n é';
    let s = '';
    for (let i = Math.floor(r() * 5); i > 0; i--) s += alphabet[Math.floor(r() * alphabet.length)];
    return /[,"\n]/.test(s) || k < 0.8 ? `"${s.replace(/"/g, '""')}"` : s;
  };
  let out = r() < 0.3 ? '\uFEFFa,b,c\n' : 'a,b,c\n';
  for (let i = 0; i < rows; i++) {
    out += `${cell()},${cell()},${cell()}${r() < 0.1 ? '\r\n' : '\n'}`;
    if (r() < 0.05) out += '\n'; // a blank line
  }
  return out;
}

const comparable = (p: DatasetProfile) => {
  const s = p.summary();
  return { rows: s.rows, columns: Object.fromEntries(Object.entries(s.columns).map(([k, c]) => [k, { ...c, numeric: c.numeric ? { ...c.numeric, mean: Math.round(c.numeric.mean * 1e9), variance: Math.round((c.numeric.variance ?? 0) * 1e6), stddev: undefined } : null }])) };
};

describe('profileInParallel: the one-pass profile, from worker threads', () => {
  it('on the CPS wages (CSV and JSON Lines), with 2 workers and 1 KiB blocks', async () => {
    const csv = cpsCsv();
    const one = await profileDelimited(chunks(csv, 4096), { file: 'cps.csv' });
    const par = await profileInParallel(chunks(csv, 700), { file: 'cps.csv', format: 'csv', workers: 2, blockBytes: 1024 });
    expect(comparable(par)).toEqual(comparable(one));
    const jsonl = cpsJsonLines();
    const oneJ = await profileJsonLines(chunks(jsonl, 4096), { file: 'cps.jsonl' });
    const parJ = await profileInParallel(chunks(jsonl, 333), { file: 'cps.jsonl', format: 'jsonl', workers: 2, blockBytes: 1024 });
    expect(comparable(parJ)).toEqual(comparable(oneJ));
  });

  it('with blank lines before the header, as the one-pass reader', async () => {
    const csv = '\n\na,b\n1,x\n2,y\n';
    const one = await profileDelimited(chunks(csv, 3), { file: 'f.csv' });
    const par = await profileInParallel(chunks(csv, 2), { file: 'f.csv', format: 'csv', workers: 2, blockBytes: 4 });
    expect(comparable(par)).toEqual(comparable(one));
    expect(one.rows).toBe(2);
  });

  it('on random CSVs with quoted commas, quotes and newlines, CRLF, blank lines and a BOM', async () => {
    const r = rng(11);
    for (let trial = 0; trial < 12; trial++) {
      const csv = randomCsv(r, 20 + Math.floor(r() * 200));
      const one = await profileDelimited(chunks(csv, 64), { file: 'f.csv' });
      const par = await profileInParallel(chunks(csv, 1 + Math.floor(r() * 100)), { file: 'f.csv', format: 'csv', workers: 1 + Math.floor(r() * 3), blockBytes: 16 + Math.floor(r() * 200) });
      expect(comparable(par), csv).toEqual(comparable(one));
    }
  });

  it.each([
    ['a wrong field count', 'a,b\n1,2\n3,4\n5\n6,7\n', "f.csv, row 4, column 'b': expected 2 fields (as the header), found 1"],
    ['an unclosed quote', 'a,b\n1,2\n"3,4\n5,6\n', 'f.csv, row 3: Quoted field unterminated (MissingQuotes)'],
    ['a duplicate header', 'a,a\n1,2\n', "f.csv, row 1: header: column 2: duplicate column name 'a' (also column 1)"],
    ['an empty file', '', 'f.csv, row 1: no header row (the file is empty or blank)'],
  ])('stops on %s with the one-pass error', async (_case, text, message) => {
    await expect(profileDelimited(chunks(text, 3), { file: 'f.csv' })).rejects.toThrow(message);
    await expect(profileInParallel(chunks(text, 3), { file: 'f.csv', format: 'csv', workers: 2, blockBytes: 4 })).rejects.toThrow(message);
  });

  it('reports the first bad row when several blocks fail', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => (i === 50 || i === 150 ? '1' : `${i},${i}`));
    const text = `a,b\n${rows.join('\n')}\n`;
    await expect(profileInParallel(chunks(text, 50), { file: 'f.csv', format: 'csv', workers: 3, blockBytes: 64 })).rejects.toThrow("f.csv, row 52, column 'b': expected 2 fields (as the header), found 1");
  });

  it('names the byte of invalid UTF-8, and refuses a row that never ends', async () => {
    const bad = new Uint8Array([...new TextEncoder().encode('a,b\n1,2\nx,'), 0xe9, 0x0a]);
    await expect(profileInParallel(chunks(bad, 4), { file: 'f.csv', format: 'csv', workers: 2 })).rejects.toThrow(/^f\.csv, byte 10: not valid UTF-8/);
    const endless = `a,b\n1,"${'x'.repeat(5000)}`;
    await expect(profileInParallel(chunks(endless, 100), { file: 'f.csv', format: 'csv', workers: 2, maxRowBytes: 1000 })).rejects.toThrow('f.csv, row 2: a row longer than 1000 bytes (a quoted value is never closed)');
  });

  it('JSON Lines errors keep their line numbers', async () => {
    const text = '{"a":1}\n{"a":2}\n\n[1]\n';
    await expect(profileJsonLines(chunks(text, 5), { file: 'f.jsonl' })).rejects.toThrow('f.jsonl, row 4: expected a JSON object, found an array');
    await expect(profileInParallel(chunks(text, 5), { file: 'f.jsonl', format: 'jsonl', workers: 2, blockBytes: 8 })).rejects.toThrow('f.jsonl, row 4: expected a JSON object, found an array');
  });
});
