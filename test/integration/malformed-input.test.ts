import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpsCsv, cpsJsonLines, cpsParquet, cpsRows } from '../../bin/local/sample-data';
import { CdkMlopsError } from '../../lambdas/core/errors';
import { InferenceRequestError, parseInferenceRequest } from '../../lambdas/core/inference';
import { sha256Hex, type LedgerRecord } from '../../lambdas/core/lineage';
import { evaluateValidation } from '../../lambdas/core/validation';
import { ingestObject } from '../../lambdas/ingest/ingest';
import { profileDatasetVersion } from '../../lambdas/shared/dataset-reader';
import { S3ObjectReader } from '../../lambdas/shared/s3-objects';
import { startLocal, type LocalEnvironment } from '../helpers/local';
import { rng } from '../helpers/random';

/*
 * Bad input is refused at the door, never a crash: each file of the audit's list, then a generated
 * corpus of malformed CSV, JSON Lines and Parquet files and request bodies, goes through ingest (on
 * s3rver + dynalite, the real SDK), the validation gate's profiling and evaluation, and the
 * endpoint's request parser. Each ends as an accepted or a rejected DatasetVersion with its reason,
 * a failed gate with its reason, or a 4xx naming the field; no other error, and the uploaded object
 * is what was uploaded (nothing rewritten or removed).
 */

let env: LocalEnvironment;
const budget = process.env.CDK_MLOPS_PARQUET_BUDGET_MS;
beforeAll(async () => {
  // a Parquet row group gets 2 s, not 30, to decode (each is ~3 KiB): corrupted page data is cut off sooner
  process.env.CDK_MLOPS_PARQUET_BUDGET_MS = '2000';
  env = await startLocal();
}, 120_000);
afterAll(async () => {
  if (budget === undefined) delete process.env.CDK_MLOPS_PARQUET_BUDGET_MS;
  else process.env.CDK_MLOPS_PARQUET_BUDGET_MS = budget;
  await env?.stop();
});

let uploads = 0;

/** What ingest and the gate make of one file. */
async function throughTheDoor(name: string, body: Uint8Array | string): Promise<{ record: LedgerRecord<'DatasetVersion'>; gate?: { passed: boolean; reasons: readonly string[] } | { refused: string } }> {
  const key = `data/malformed/${++uploads}-${name}`;
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const put = await env.s3.send(new PutObjectCommand({ Bucket: env.dataBucket, Key: key, Body: bytes }));
  const objects = new S3ObjectReader(env.s3);
  const outcome = await ingestObject({ bucket: env.dataBucket, key, versionId: null, etag: put.ETag ?? null, size: bytes.length, eventId: `e-${uploads}`, eventTime: null }, { objects, ledger: env.ledger() }, { dataPrefix: 'data/' });
  const record = (await env.ledger().get(outcome.recordId)) as LedgerRecord<'DatasetVersion'>;
  // the lake keeps the upload as it was
  const stored = await env.s3.send(new GetObjectCommand({ Bucket: env.dataBucket, Key: key }));
  expect(sha256Hex(await stored.Body!.transformToByteArray()), `${name}: the uploaded object changed`).toBe(sha256Hex(bytes));
  if (record.data.status !== 'accepted') return { record };
  try {
    const profile = await profileDatasetVersion(record, objects, { workers: 1 });
    return { record, gate: evaluateValidation(profile, {}) };
  } catch (err) {
    if (!(err instanceof CdkMlopsError)) throw new Error(`${name}: the gate crashed with ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
    return { record, gate: { refused: err.message } };
  }
}

const refused = (r: Awaited<ReturnType<typeof throughTheDoor>>): string => {
  if (r.record.data.status === 'rejected') return `ingest: ${r.record.data.reason}`;
  const gate = r.gate!;
  if ('refused' in gate) return `gate: ${gate.refused}`;
  return gate.passed ? '' : `gate: ${gate.reasons.join('; ')}`;
};

describe('the audit\'s bad inputs, each refused with its reason', () => {
  it('a JSON Lines value nested 3,000 deep: refused naming the line and field (the gate used to crash with RangeError)', async () => {
    const deep = `{"a":1}\n{"a":${'['.repeat(3000)}${']'.repeat(3000)}}\n`;
    expect(refused(await throughTheDoor('deep.jsonl', deep))).toBe("ingest: unreadable jsonl: line 2, field 'a': the value nests deeper than 64 levels");
    // past ingest's 100-line sample, the gate's profiler refuses it the same way
    const late = `${'{"a":1}\n'.repeat(150)}{"a":${'['.repeat(3000)}${']'.repeat(3000)}}\n`;
    expect(refused(await throughTheDoor('deep-late.jsonl', late))).toMatch(/^gate: .*row 151, column 'a': the value nests deeper than 64 levels$/);
  });

  it('a header-only CSV, with no contract: the gate fails it', async () => {
    expect(refused(await throughTheDoor('header-only.csv', 'education,experience,wage\n'))).toBe('gate: no data rows: the file has a header and no records');
  });

  it('a CSV with NUL bytes: refused at ingest (in its first bytes) or by the gate (later), with the byte', async () => {
    expect(refused(await throughTheDoor('nul-head.csv', 'a,b\n1,\u00002\n'))).toBe('ingest: a NUL byte at byte 6: binary content, not csv text');
    const late = `a,b\n${'1,2\n'.repeat(40_000)}3,\u00004\n`;
    expect(refused(await throughTheDoor('nul-late.csv', late))).toMatch(/^gate: .*byte 160006: a NUL byte: binary content, not text$/);
  });

  it('Parquet whose page data would keep the decoder busy for hours: the gate refuses it within its budget, naming the row group', async () => {
    // one byte of a page flipped (21 -> 105 at byte 2438): hyparquet 1.31-1.33 then fills an array of the count it misread
    const bad = Buffer.from(await cpsParquet(cpsRows().slice(0, 200)));
    bad[2438] = 105;
    const started = Date.now();
    expect(refused(await throughTheDoor('busy.parquet', bad))).toMatch(/^gate: .*busy\.parquet, row 1: row group starting here cannot be read: decoding did not finish within 2 s \(corrupted page data\?\)$/);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  it('Parquet bytes named .csv: refused by content', async () => {
    expect(refused(await throughTheDoor('really-parquet.csv', await cpsParquet(cpsRows().slice(0, 20))))).toBe('ingest: content is Parquet (it starts with PAR1), not csv as its name or Content-Type says');
  });

  it('(control) the CPS data in each format passes', async () => {
    for (const [name, body] of [['cps.csv', cpsCsv()], ['cps.jsonl', cpsJsonLines()], ['cps.parquet', await cpsParquet()]] as const) expect(refused(await throughTheDoor(name, body)), name).toBe('');
  });
});

/** A seeded corpus: mutations of valid files and bodies, with the edge cases a fuzzer finds first. */
function corpus(random: () => number, valid: { csv: string; jsonl: string; parquet: Uint8Array }): { name: string; body: Uint8Array | string }[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const bytes = (s: string | Uint8Array) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));
  const flip = (b: Buffer, n: number) => {
    const out = Buffer.from(b);
    for (let i = 0; i < n; i++) out[Math.floor(random() * out.length)] = Math.floor(random() * 256);
    return out;
  };
  const cut = (b: Buffer) => b.subarray(0, Math.floor(random() * b.length));
  const splice = (s: string, insert: string) => {
    const at = Math.floor(random() * s.length);
    return s.slice(0, at) + insert + s.slice(at);
  };
  const textNasties = ['"', '""', '\u0000', '\r', '\r\n', ',,,,', '\uFEFF', '\uFFFD', '\\', '\u2028', 'NaN', '1e309', '-Infinity', '0x0C', '{', ']'];
  const out: { name: string; body: Uint8Array | string }[] = [];
  const csv = valid.csv.split('\n').slice(0, 60).join('\n') + '\n';
  const jsonl = valid.jsonl.split('\n').slice(0, 60).join('\n') + '\n';
  for (let i = 0; i < 120; i++) {
    const kind = i % 4;
    const body = kind === 0 ? flip(bytes(csv), 1 + Math.floor(random() * 8)) : kind === 1 ? cut(bytes(csv)) : kind === 2 ? splice(csv, pick(textNasties)) : pick(['', '\n', ',', 'a,a\n1,2\n', ',b\n1,2\n', '"unclosed,b\n1,2\n', 'a,b\n1,2,3\n', '\uFEFF\uFEFFa,b\n1,2\n', 'a\n' + 'x'.repeat(300_000) + '\n']);
    out.push({ name: `fuzz-${i}.csv`, body });
  }
  for (let i = 0; i < 100; i++) {
    const kind = i % 4;
    const body =
      kind === 0
        ? flip(bytes(jsonl), 1 + Math.floor(random() * 8))
        : kind === 1
          ? cut(bytes(jsonl))
          : kind === 2
            ? splice(jsonl, pick(textNasties))
            : pick(['[1,2]\n', 'null\n', '"text"\n', '{"a":NaN}\n', '{"a":1e309}\n', `{"a":${'{"b":'.repeat(200)}1${'}'.repeat(200)}}\n`, '{"a":1}{"a":2}\n', '{"__proto__":{"x":1}}\n', '{"a":"\\ud800"}\n', '\n\n\n']);
    out.push({ name: `fuzz-${i}.jsonl`, body });
  }
  // Parquet: truncated, its footer (the metadata) or its pages' data corrupted, or its magic alone. Page data
  // that keeps hyparquet busy is cut off by the decoder's budget (lambdas/core/profile/parquet-decoder.ts).
  for (let i = 0; i < 60; i++) {
    const p = Buffer.from(valid.parquet);
    const kind = i % 4;
    const footer = () => {
      const out = Buffer.from(p);
      const from = out.length - Math.max(16, Math.floor(out.length * 0.15));
      for (let k = 0; k < 1 + Math.floor(random() * 6); k++) out[from + Math.floor(random() * (out.length - 8 - from))] = Math.floor(random() * 256);
      return out;
    };
    const pages = () => {
      const out = Buffer.from(p);
      const end = out.length - Math.floor(out.length * 0.2);
      for (let k = 0; k < 1 + Math.floor(random() * 6); k++) out[4 + Math.floor(random() * (end - 4))] = Math.floor(random() * 256);
      return out;
    };
    const body = kind === 0 ? footer() : kind === 1 ? cut(p) : kind === 2 ? pages() : pick([Buffer.from('PAR1'), Buffer.from('PAR1PAR1'), Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64), Buffer.from('PAR1')])]);
    out.push({ name: `fuzz-${i}.parquet`, body });
  }
  return out;
}

describe('a generated corpus of malformed files and request bodies', () => {
  it('ends every one of 280 files as a record with its reason or a gate outcome: no crash, the upload untouched', async () => {
    // Prepare
    const files = corpus(rng(17), { csv: cpsCsv(), jsonl: cpsJsonLines(), parquet: await cpsParquet(cpsRows().slice(0, 200)) });
    expect(files).toHaveLength(280);
    let rejected = 0;
    let failed = 0;
    // Act / Assess: throughTheDoor throws on any error that is not the kit's own, and on a changed upload
    for (const { name, body } of files) {
      const r = await throughTheDoor(name, body);
      if (r.record.data.status === 'rejected') {
        rejected++;
        expect(r.record.data.reason, name).toMatch(/\S/);
      } else if (r.gate && ('refused' in r.gate || !r.gate.passed)) {
        failed++;
      }
    }
    // most are refused somewhere; the rest are data that happens to parse (a flipped digit is still a row)
    expect(rejected + failed).toBeGreaterThan(140);
  }, 240_000);

  it('answers every one of 300 mutated request bodies with 4xx naming a field, or scores it', () => {
    const signature = { input: 'features', output: 'score', features: ['education', 'experience', { column: 'gender', categories: { female: 1, male: 0 } }] } as const;
    const random = rng(23);
    const valid = JSON.stringify({ rows: cpsRows().slice(0, 3).map((r) => ({ education: r.education, experience: r.experience, gender: r.gender })) });
    const nasties = ['"', '{', '}', '[', ']', ',', ':', 'null', 'NaN', '1e309', '"0x0C"', '"0b1100"', '-', '\u0000', '\\u0000', 'true', '{"rows":', '"__proto__"'];
    let refusedBodies = 0;
    for (let i = 0; i < 300; i++) {
      let body = valid;
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
        const at = Math.floor(random() * body.length);
        body = random() < 0.5 ? body.slice(0, at) + nasties[Math.floor(random() * nasties.length)]! + body.slice(at) : body.slice(0, at) + body.slice(at + 1 + Math.floor(random() * 5));
      }
      try {
        const parsed = parseInferenceRequest(body, signature, { maxRows: 100, maxBodyBytes: 1 << 20 });
        expect(Array.from(parsed.features).every(Number.isFinite), body).toBe(true);
      } catch (err) {
        expect(err, body).toBeInstanceOf(InferenceRequestError);
        const e = err as InferenceRequestError;
        expect([400, 413, 415], body).toContain(e.statusCode);
        expect(e.errors.length, body).toBeGreaterThan(0);
        for (const fe of e.errors) expect(fe.field, body).toMatch(/^(body|rows|columns)/);
        refusedBodies++;
      }
    }
    expect(refusedBodies).toBeGreaterThan(200);
  });
});
