import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Papa from 'papaparse';
import { afterAll, describe, expect, it } from 'vitest';
import { cpsCsv } from '../../bin/local/sample-data';
import { buildRecord, type LedgerRecord } from '../../lambdas/core/lineage';
import { checkHoldoutPercent, fnv1a, inHoldout, rowKey } from '../../lambdas/core/pipeline';
import type { ObjectReader } from '../../lambdas/ingest/ingest';
import { delimitedField, splitDatasetVersion } from '../../lambdas/pipeline-steps/split';
import { sha256Hex } from '../../lambdas/core/lineage';
import { PipelineBusyError, turn, type StepsDeps } from '../../lambdas/pipeline-steps/steps';

/*
 * The holdout: which rows champion and challenger are judged on. The split is
 * by content (a salted FNV-1a of the row's canonical JSON), so it needs no
 * state, is the same in every version of the data, and the snapshot files it
 * writes hold every row exactly once.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'holdout-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function version(key: string, format: string, size = 1): LedgerRecord<'DatasetVersion'> {
  return buildRecord(
    { kind: 'DatasetVersion', subject: 'dataset/cps', data: { dataset: 'cps', bucket: 'data', key, versionId: null, etag: null, sha256: null, size, contentType: null, format, status: 'accepted', source: { eventId: null, eventTime: null } } },
    new Date('2026-11-23T00:00:00Z'),
    () => key.replace(/\W/g, ''),
  );
}

const memory = (files: Record<string, string>): ObjectReader => ({
  open: async (ref) => (files[ref.key] === undefined ? undefined : { body: (async function* () { yield await Promise.resolve(new TextEncoder().encode(files[ref.key])); })(), contentType: null, versionId: null, etag: null }),
  randomAccess: () => {
    throw new Error('not used');
  },
});

describe('inHoldout', () => {
  const rows = Papa.parse<Record<string, string>>(cpsCsv(), { header: true, skipEmptyLines: true }).data;

  it('FNV-1a matches its published test vectors', () => {
    // Fowler/Noll/Vo reference values for 32-bit FNV-1a
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('keeps about the asked share, the same rows every time, whatever the column order', () => {
    const held = rows.filter((r) => inHoldout(r, 20, 'cps-wages'));
    // 534 rows at 20%: binomial sd ≈ 9.2, so 107 ± 28 (3 sd)
    expect(held.length).toBeGreaterThan(79);
    expect(held.length).toBeLessThan(135);
    expect(rows.filter((r) => inHoldout(r, 20, 'cps-wages'))).toEqual(held);
    const reordered = rows.map((r) => Object.fromEntries(Object.entries(r).reverse()));
    expect(reordered.filter((r) => inHoldout(r, 20, 'cps-wages')).length).toBe(held.length);
    expect(rowKey({ b: 1, a: 2 })).toBe(rowKey({ a: 2, b: 1 }));
    expect(rowKey({ n: 12n })).toBe('[["n","12"]]');
  });

  it('puts duplicate rows on the same side, and another salt splits differently', () => {
    const row = rows[0]!;
    expect(inHoldout({ ...row }, 30, 'p')).toBe(inHoldout({ ...row }, 30, 'p'));
    const a = rows.map((r) => inHoldout(r, 50, 'one'));
    const b = rows.map((r) => inHoldout(r, 50, 'two'));
    expect(a).not.toEqual(b);
  });

  it('a row in the holdout at a small share stays in it at a bigger one (the split only grows)', () => {
    for (const r of rows) if (inHoldout(r, 10, 's')) expect(inHoldout(r, 20, 's')).toBe(true);
  });

  it.each([0, -5, 51, Number.NaN])('refuses a holdout share of %s, naming the field', (p) => {
    expect(() => checkHoldoutPercent(p)).toThrow(/^holdoutPercent: must be a percentage above 0 and at most 50/);
  });
});

describe('splitDatasetVersion', () => {
  it('writes CSV back as CSV: the header in both files, every row once, quotes where needed', async () => {
    const csv = 'id,note,n\n1,plain,3\n2,"has, comma",4\n3,"says ""hi""",5\n4,"two\nlines",6\n5,,7\n';
    const split = await splitDatasetVersion(version('data/cps/a.csv', 'csv'), memory({ 'data/cps/a.csv': csv }), { dir, percent: 50, salt: 's' });
    expect(split.format).toBe('csv');
    const train = Papa.parse<Record<string, string>>(readFileSync(split.train.path, 'utf8'), { header: true, skipEmptyLines: true }).data;
    const holdout = Papa.parse<Record<string, string>>(readFileSync(split.holdout.path, 'utf8'), { header: true, skipEmptyLines: true }).data;
    expect(split.train.rows + split.holdout.rows).toBe(5);
    expect(train.length).toBe(split.train.rows);
    expect([...train, ...holdout].sort((x, y) => Number(x.id) - Number(y.id))).toEqual(Papa.parse(csv, { header: true, skipEmptyLines: true }).data);
    for (const r of holdout) expect(inHoldout(r, 50, 's')).toBe(true);
    for (const r of train) expect(inHoldout(r, 50, 's')).toBe(false);
    expect(split.train.bytes).toBe(Buffer.byteLength(readFileSync(split.train.path)));
    // hashed as written: the SHA-256 of the file's bytes (a quoted multi-line field included)
    expect(split.train.sha256).toBe(sha256Hex(readFileSync(split.train.path)));
    expect(split.holdout.sha256).toBe(sha256Hex(readFileSync(split.holdout.path)));
  });

  it('keeps JSON Lines as JSON Lines with its types', async () => {
    const lines = ['{"a":1,"b":"x"}', '{"a":2.5,"b":null}', '{"a":3,"b":true}'];
    const split = await splitDatasetVersion(version('data/cps/a.jsonl', 'jsonl'), memory({ 'data/cps/a.jsonl': lines.join('\n') }), { dir, percent: 50, salt: 's' });
    const read = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
    expect([...read(split.train.path), ...read(split.holdout.path)]).toEqual(expect.arrayContaining(lines.map((l) => JSON.parse(l) as unknown)));
    expect(split.train.rows + split.holdout.rows).toBe(3);
  });

  it('a bad row stops the split with its row and column', async () => {
    const split = splitDatasetVersion(version('data/cps/b.csv', 'csv'), memory({ 'data/cps/b.csv': 'a,b\n1,2\n3\n' }), { dir, percent: 20, salt: 's' });
    await expect(split).rejects.toMatchObject({ name: 'DatasetParseError', location: { row: 3, column: 'b' } });
  });

  it('quotes a field only when it must', () => {
    expect(delimitedField('plain', ',')).toBe('plain');
    expect(delimitedField('a,b', ',')).toBe('"a,b"');
    expect(delimitedField('a,b', '\t')).toBe('a,b');
    expect(delimitedField('say "x"', ',')).toBe('"say ""x"""');
    expect(delimitedField('a\r\nb', '\t')).toBe('"a\r\nb"');
  });
});

describe('one execution at a time (turn)', () => {
  const at = (iso: string) => new Date(iso);
  const deps = (running: { name: string; startDate: Date }[]) => ({ executions: { running: async () => running } }) as unknown as StepsDeps;
  const me = { stateMachineArn: 'arn:sm', executionName: 'dsv-b', startTime: '2026-11-23T10:00:00.000Z' };

  it('goes on when nothing else runs, or only later executions', async () => {
    await expect(turn(me, deps([]))).resolves.toEqual({ ahead: 0 });
    await expect(turn(me, deps([{ name: 'dsv-b', startDate: at(me.startTime) }, { name: 'dsv-c', startDate: at('2026-11-23T10:05:00Z') }]))).resolves.toEqual({ ahead: 0 });
  });

  it('waits for an execution that started earlier (ties broken by name)', async () => {
    await expect(turn(me, deps([{ name: 'dsv-z', startDate: at('2026-11-23T09:59:59Z') }]))).rejects.toThrow(PipelineBusyError);
    await expect(turn(me, deps([{ name: 'dsv-a', startDate: at(me.startTime) }]))).rejects.toThrow('1 earlier execution(s) of the pipeline still run (dsv-a)');
    await expect(turn(me, deps([{ name: 'dsv-c', startDate: at(me.startTime) }]))).resolves.toEqual({ ahead: 0 });
  });

  it('refuses a start time that is not a time', async () => {
    await expect(turn({ ...me, startTime: 'soon' }, deps([]))).rejects.toThrow("startTime: 'soon' is not a time");
  });
});
