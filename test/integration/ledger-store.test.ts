import { DeleteCommand, PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealRecord, buildRecord, nextLink, sha256Hex, type ChainLink } from '../../lambdas/core/lineage';
import { ArtifactStore } from '../../lambdas/shared/artifact-store';
import { dynamoDocumentClient, s3Client } from '../../lambdas/shared/clients';
import { LedgerStore } from '../../lambdas/shared/ledger-store';
import { startLocal, type LocalEnvironment } from '../helpers/local';

let env: LocalEnvironment;
beforeAll(async () => {
  env = await startLocal();
});
afterAll(async () => {
  await env?.stop();
});

const incident = (subject: string, id?: string, parents: string[] = []) =>
  ({ kind: 'Incident', subject, parents, data: { type: 'drift', reason: 'test' }, ...(id ? { id } : {}) }) as const;

describe('LedgerStore on dynalite + s3rver (tables and buckets from the synthesized template)', () => {
  it('appends, reads back, lists history and chains, and writes WORM copies', async () => {
    // Prepare
    const ledger = env.ledger();
    // Act
    const a = await ledger.append(incident('endpoint/basic'));
    const b = await ledger.append(incident('endpoint/basic'));
    // Assess
    expect(a.created && b.created).toBe(true);
    expect([a.link.seq, b.link.seq]).toEqual([1, 2]);
    expect(b.link.prevHash).toBe(a.link.hash);
    expect(await ledger.get(a.record.id)).toEqual(a.record);
    expect((await ledger.history('endpoint/basic')).map((r) => r.id)).toEqual([a.record.id, b.record.id]);
    expect(await ledger.chains()).toContain('endpoint/basic');
    const copy = await env.s3.send(new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: env.ledgerBucket, Key: `ledger/records/${a.record.id}.json` }));
    expect(await copy.Body!.transformToString()).toBe(sealRecord(a.record).body);
    expect(await ledger.verify('endpoint/basic')).toMatchObject({ ok: true, length: 2 });
  });

  it('makes an append with a known id idempotent: the first record stands', async () => {
    const ledger = env.ledger();
    const first = await ledger.append(incident('endpoint/idem', 'inc-fixed'));
    const again = await ledger.append({ ...incident('endpoint/idem', 'inc-fixed'), data: { type: 'drift', reason: 'a different body' } });
    expect(again.created).toBe(false);
    expect(again.record).toEqual(first.record);
    expect(again.link).toEqual(first.link);
    expect(await ledger.links('endpoint/idem')).toHaveLength(1);
  });

  it('keeps one chain under concurrent writers: no lost records, no forks', async () => {
    // Prepare: 8 independent writers (own SDK clients), 25 appends each, all at once, one chain
    const writers = Array.from({ length: 8 }, () => new LedgerStore({ ddb: dynamoDocumentClient(env.emulators.env), s3: s3Client(env.emulators.env), tableName: env.tableName, wormBucket: env.ledgerBucket }));
    // Act
    const results = await Promise.all(writers.map((w, i) => Promise.all(Array.from({ length: 25 }, (_, j) => w.append(incident('pipeline/busy', `inc-w${i}-${j}`))))));
    // Assess
    const links = await env.ledger().links('pipeline/busy');
    expect(links.map((l) => l.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(links.map((l) => l.recordId)).size).toBe(200);
    expect(results.flat().every((r) => r.created)).toBe(true);
    expect(await env.ledger().verify('pipeline/busy')).toMatchObject({ ok: true, length: 200, redundantLinks: 0 });
    // 200 appends by 8 racing writers on dynalite: about 20 s alone, over 60 s beside the bundling tests on 2 cores; the test is about correctness, not speed
  }, 240_000);

  it('records concurrent duplicates of one record exactly once, with one link', async () => {
    const writers = Array.from({ length: 10 }, () => env.ledger());
    const results = await Promise.all(writers.map((w) => w.append(incident('dataset/dup', 'dsv-same'))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.link.hash)).size).toBe(1);
    expect(await env.ledger().links('dataset/dup')).toHaveLength(1);
    expect(await env.ledger().history('dataset/dup')).toHaveLength(1);
  });

  it('completes a record whose writer died between its two puts', async () => {
    // Prepare: the record item exists, its link does not (as if the writer crashed)
    const record = buildRecord(incident('endpoint/crash', 'inc-orphan'), new Date(), () => 'x');
    const { body, hash } = sealRecord(record);
    await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: { pk: `REC#${record.id}`, sk: 'REC', id: record.id, kind: record.kind, subject: record.subject, chain: record.chain, createdAt: record.createdAt, body, recordHash: hash, gsi1pk: `SUBJECT#${record.subject}`, gsi1sk: `${record.createdAt}#${record.id}`, gsi2pk: `CHAINREC#${record.chain}`, gsi2sk: `${record.createdAt}#${record.id}` } }));
    const ledger = env.ledger({ linkWaitMs: 100 });
    expect((await ledger.verify('endpoint/crash')).problems).toEqual([expect.objectContaining({ code: 'unlinked-record', recordId: 'inc-orphan' })]);
    // Act: the retry (same id)
    const retried = await ledger.append(incident('endpoint/crash', 'inc-orphan'));
    // Assess
    expect(retried).toMatchObject({ created: false, link: { seq: 1, recordHash: hash } });
    expect(await ledger.verify('endpoint/crash')).toMatchObject({ ok: true, length: 1 });
  });

  it('answers "everything derived from X" and "what X derives from", transitively', async () => {
    const ledger = env.ledger();
    const ds = await ledger.append(incident('dataset/lineage', 'dsv-root'));
    const run = await ledger.append(incident('pipeline/lineage', 'tr-1', ['dsv-root']));
    const model = await ledger.append(incident('pipeline/lineage', 'mv-1', ['tr-1']));
    const other = await ledger.append(incident('pipeline/lineage', 'mv-2', ['tr-1', 'dsv-root']));
    const deploy = await ledger.append(incident('endpoint/lineage', 'dep-1', ['mv-1']));
    expect((await ledger.derivedFrom(ds.record.id)).map((r) => r.id).sort()).toEqual([deploy, model, other, run].map((r) => r.record.id).sort());
    expect((await ledger.ancestors('dep-1')).map((r) => r.id)).toEqual(['mv-1', 'tr-1', 'dsv-root']);
    expect(await ledger.derivedFrom('dep-1')).toEqual([]);
  });

  describe('verify detects tampering by someone with full table access', () => {
    let ledger: LedgerStore;
    const chain = 'endpoint/tamper';
    beforeAll(async () => {
      ledger = env.ledger();
      for (let i = 1; i <= 4; i++) await ledger.append(incident(chain, `inc-t${i}`));
      expect(await ledger.verify(chain)).toMatchObject({ ok: true, length: 4 });
    });

    it('an edited record', async () => {
      const item = (await env.ddb.send(new GetCommand({ TableName: env.tableName, Key: { pk: 'REC#inc-t2', sk: 'REC' } }))).Item!;
      const body = String(item.body).replace('"test"', '"nothing to see"');
      await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: { ...item, body } }));
      const report = await ledger.verify(chain);
      expect(report.ok).toBe(false);
      expect(report.problems).toContainEqual(expect.objectContaining({ code: 'record-altered', recordId: 'inc-t2', seq: 2 }));
      await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: item })); // restore for the next case
    });

    it('a removed record', async () => {
      const item = (await env.ddb.send(new GetCommand({ TableName: env.tableName, Key: { pk: 'REC#inc-t3', sk: 'REC' } }))).Item!;
      await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: { pk: 'REC#inc-t3', sk: 'REC' } }));
      expect((await ledger.verify(chain)).problems).toContainEqual(expect.objectContaining({ code: 'missing-record', recordId: 'inc-t3' }));
      await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: item }));
    });

    it('a removed link in the middle, and a removed last link (through the WORM copies)', async () => {
      const key = (seq: number) => ({ pk: `CHAIN#${chain}`, sk: String(seq).padStart(12, '0') });
      const middle = (await env.ddb.send(new GetCommand({ TableName: env.tableName, Key: key(2) }))).Item!;
      await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: key(2) }));
      const gap = await ledger.verify(chain);
      expect(gap.problems.map((p) => p.code)).toEqual(expect.arrayContaining(['seq-gap', 'missing-link']));
      await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: middle }));

      await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: key(4) }));
      const truncated = await ledger.verify(chain);
      expect(truncated.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'missing-link', seq: 4 }), expect.objectContaining({ code: 'unlinked-record', recordId: 'inc-t4' })]));
    });

    it('a whole chain removed from the table is still found through the WORM copies', async () => {
      const gone = env.ledger();
      await gone.append(incident('endpoint/vanished', 'inc-v1'));
      await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: { pk: 'CHAIN#endpoint/vanished', sk: '000000000001' } }));
      await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: { pk: 'CHAINS', sk: 'endpoint/vanished' } }));
      const reports = await gone.verifyAll();
      expect(reports.find((r) => r.chain === 'endpoint/vanished')).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.objectContaining({ code: 'missing-link', seq: 1 })]) });
    });

    it('(control) a WORM copy that is missing is reported too', async () => {
      const fresh = env.ledger();
      await fresh.append(incident('endpoint/worm', 'inc-w1'));
      await env.s3.send(new DeleteObjectCommand({ Bucket: env.ledgerBucket, Key: 'ledger/chains/endpoint%2Fworm/000000000001.json' }));
      expect((await fresh.verify('endpoint/worm')).problems).toEqual([expect.objectContaining({ code: 'worm-mismatch', seq: 1 })]);
    });
  });

  it('lists past 1,000 objects on s3rver (paged by StartAfter): a chain of 1,001 WORM links is read whole', async () => {
    // Prepare: the WORM copies of 1,001 links of a chain the table does not have (written straight to the bucket)
    const chain = 'endpoint/long';
    let link: ChainLink | undefined;
    const links = Array.from({ length: 1001 }, (_, i) => {
      link = nextLink(chain, link, `inc-long-${i + 1}`, sha256Hex(String(i + 1)));
      return { key: `ledger/chains/${encodeURIComponent(chain)}/${String(i + 1).padStart(12, '0')}.json`, body: JSON.stringify(link) };
    });
    for (let i = 0; i < links.length; i += 50) await Promise.all(links.slice(i, i + 50).map((l) => env.s3.send(new PutObjectCommand({ Bucket: env.ledgerBucket, Key: l.key, Body: l.body }))));
    // Act
    const report = await env.ledger().verify(chain);
    const listed: string[] = [];
    for await (const key of new ArtifactStore(env.s3, env.ledgerBucket).list(`ledger/chains/${encodeURIComponent(chain)}/`)) listed.push(key);
    // Assess: every link found (each missing from the table), none lost at the page boundary
    expect(listed).toHaveLength(1001);
    expect(report.problems.filter((p) => p.code === 'missing-link')).toHaveLength(1001);
  }, 120_000);
});
