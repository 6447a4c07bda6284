import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectCreatedEvent, uploadWithEvent } from '../../bin/local/s3-events';
import { cpsCsv, cpsJsonLines, cpsParquet } from '../../bin/local/sample-data';
import { sha256Hex, type LedgerRecord } from '../../lambdas/core/lineage';
import type { IngestOutcome } from '../../lambdas/ingest/ingest';
import { handler as ingestHandler } from '../../lambdas/ingest/index';
import { startLocal, type LocalEnvironment } from '../helpers/local';

let env: LocalEnvironment;
// The handler reads its environment at its first invocation, after beforeAll has set it.
const handler = ingestHandler as unknown as (event: unknown, context: unknown) => Promise<IngestOutcome>;

beforeAll(async () => {
  env = await startLocal();
  // The handler runs with the environment the template gives it, resolved against the emulators.
  Object.assign(process.env, env.stack.functionEnvironment(env.ingestFunctionId));
});
afterAll(async () => {
  await env?.stop();
});

const context = { functionName: 'ingest', awsRequestId: 'test', getRemainingTimeInMillis: () => 60_000 };

async function ingest(key: string, body: Uint8Array | string, contentType?: string): Promise<{ outcome: IngestOutcome; event: Record<string, unknown> }> {
  const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: key, Body: body, ...(contentType ? { ContentType: contentType } : {}) });
  return { outcome: await handler(event, context), event };
}

async function record(id: string): Promise<LedgerRecord<'DatasetVersion'>> {
  return (await env.ledger().get(id)) as LedgerRecord<'DatasetVersion'>;
}

describe('ingest handler (s3rver + dynalite, real SDK clients)', () => {
  it('records a CSV with its hash, size, content type and header schema', async () => {
    // Prepare
    const csv = cpsCsv();
    // Act
    const { outcome } = await ingest('data/cps/2024/cps.csv', csv, 'text/csv');
    // Assess
    expect(outcome).toMatchObject({ status: 'accepted', duplicate: false, dataset: 'cps', sha256: sha256Hex(csv), size: Buffer.byteLength(csv) });
    const r = await record(outcome.recordId);
    expect(r).toMatchObject({ kind: 'DatasetVersion', subject: 'dataset/cps', chain: 'dataset/cps' });
    expect(r.data).toMatchObject({ bucket: env.dataBucket, key: 'data/cps/2024/cps.csv', contentType: 'text/csv', format: 'csv', status: 'accepted' });
    expect(r.data.schema!.columns.map((c) => c.name)).toEqual(['wage', 'education', 'experience', 'age', 'gender', 'race', 'occupation', 'sector', 'union', 'south', 'married']);
    expect(r.data.etag).toMatch(/^[0-9a-f]{32}$/);
  });

  it('records JSON Lines with the keys and types of its records', async () => {
    const { outcome } = await ingest('data/cps-jsonl/cps.jsonl', cpsJsonLines());
    const r = await record(outcome.recordId);
    expect(r.data.status).toBe('accepted');
    expect(r.data.schema!.columns).toContainEqual({ name: 'wage', type: 'number' });
    expect(r.data.schema!.columns).toContainEqual({ name: 'gender', type: 'string' });
  });

  it('records Parquet with the schema and row count from its footer (read by range requests)', async () => {
    const { outcome } = await ingest('data/cps-parquet/cps.parquet', await cpsParquet());
    const r = await record(outcome.recordId);
    expect(r.data).toMatchObject({ status: 'accepted', format: 'parquet', schema: { numRows: 534 } });
    expect(r.data.schema!.columns).toContainEqual({ name: 'wage', type: 'DOUBLE' });
  });

  it('turns duplicate events (repeated and concurrent) for one object version into exactly one record', async () => {
    const { outcome, event } = await ingest('data/dups/a.csv', 'x,y\n1,2\n');
    const again = await Promise.all([handler(event, context), handler(event, context), handler({ ...event, id: 'another-delivery' }, context)]);
    expect(again.map((o) => [o.recordId, o.duplicate])).toEqual(Array.from({ length: 3 }, () => [outcome.recordId, true]));
    expect(await env.ledger().history('dataset/dups')).toHaveLength(1);
    expect(await env.ledger().links('dataset/dups')).toHaveLength(1);
  });

  it('records a new upload of the same key as a new version', async () => {
    const first = await ingest('data/versions/a.csv', 'x\n1\n');
    const second = await ingest('data/versions/a.csv', 'x\n2\n');
    expect(second.outcome.recordId).not.toBe(first.outcome.recordId);
    expect((await env.ledger().history('dataset/versions')).map((r) => r.id)).toEqual([first.outcome.recordId, second.outcome.recordId]);
  });

  it.each([
    ['an empty file', 'data/bad/empty.csv', Buffer.alloc(0), 'empty file'],
    ['invalid UTF-8', 'data/bad/latin1.csv', Buffer.from('name,city\nJos\xe9,M\xe1laga\n', 'latin1'), 'not valid UTF-8 at byte 13: byte 0xe9 is not followed by a continuation byte'],
    ['an unsupported format', 'data/bad/sheet.xlsx', Buffer.from('PK\x03\x04'), "unsupported format: 'data/bad/sheet.xlsx' is none of csv, tsv, jsonl, parquet"],
    ['a CSV with duplicate columns', 'data/bad/dup.csv', Buffer.from('a,b,a\n1,2,3\n'), "unreadable csv: header row, column 3: duplicate column name 'a' (also column 1)"],
    ['a JSON Lines file with a broken line', 'data/bad/broken.jsonl', Buffer.from('{"a":1}\n{"a":\n'), 'unreadable jsonl: line 2: invalid JSON'],
    ['a file outside any dataset folder', 'data/loose.csv', Buffer.from('a\n1\n'), "key must be 'data/<dataset>/<file>'"],
  ])('records %s as rejected, with the reason and the hash', async (_name, key, body, reason) => {
    const { outcome } = await ingest(key, body);
    expect(outcome.status).toBe('rejected');
    expect(outcome.reason).toContain(reason);
    const r = await record(outcome.recordId);
    expect(r.data).toMatchObject({ status: 'rejected', sha256: sha256Hex(body), size: body.length });
  });

  it('records a truncated Parquet file as rejected, naming the footer', async () => {
    const whole = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'x', data: [1, 2, 3], type: 'INT32' }] }));
    const { outcome } = await ingest('data/bad/cut.parquet', whole.subarray(0, whole.length - 10));
    expect(outcome).toMatchObject({ status: 'rejected' });
    expect(outcome.reason).toMatch(/^unreadable parquet: footer: /);
  });

  it('records an object deleted before ingest as rejected, not lost', async () => {
    const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'data/gone/a.csv', Body: 'a\n1\n' });
    await env.s3.send(new DeleteObjectCommand({ Bucket: env.dataBucket, Key: 'data/gone/a.csv' }));
    const outcome = await handler(event, context);
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'unreadable: the object version no longer exists', sha256: null });
  });

  it('fails a malformed event with a named error and the field (so it is retried, then dead-lettered)', async () => {
    const event = objectCreatedEvent(env.dataBucket, 'data/x/a.csv', 1, undefined, undefined);
    await expect(handler(event, context)).rejects.toThrow('detail.object: neither version-id nor etag is present');
    await expect(handler({ hello: 'world' }, context)).rejects.toMatchObject({ name: 'InvalidEventError' });
  });

  it('leaves every chain it wrote verifiable', async () => {
    const reports = await env.ledger().verifyAll();
    expect(reports.length).toBeGreaterThan(5);
    for (const r of reports) expect(r, r.chain).toMatchObject({ ok: true });
  });
});
