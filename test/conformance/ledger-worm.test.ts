import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRecord, linkHash, nextLink, sealRecord, type ChainLink, type LedgerRecord } from '../../lambdas/core/lineage';
import { LEDGER_DENIED_ACTIONS, WORM_GUARDED_ACTIONS } from '../../lib/lineage-ledger';
import { bucketPolicy, cdkPath, decide, tablePolicy, templateRoles, type TemplateRole } from '../helpers/iam-simulator';
import { startLocal, type LocalEnvironment } from '../helpers/local';
import { motoAvailable } from '../helpers/moto';

/*
 * The ledger's promise, played by an insider on moto's server (real S3 versioning, Object Lock and
 * conditional writes; DynamoDB as deployed), the reference app's template provisioned there. Each
 * attack first asks the IAM simulator what the deployed policies let the kit's own roles do, then
 * plays on moto what an administrator who lifted those policies could still do, and `verify` must
 * name it. Each of these passed `verify` before the WORM copies became the authority.
 */

const SUITE = 'ledger WORM conformance (moto)';
const run = motoAvailable(SUITE);

let env: LocalEnvironment;
let roles: TemplateRole[];
let wormPolicy: ReturnType<typeof bucketPolicy>;
let ledgerTablePolicy: ReturnType<typeof tablePolicy>;

beforeAll(async () => {
  if (!run) return;
  env = await startLocal({ bundle: true, emulators: 'moto' });
  roles = templateRoles(env.stack);
  wormPolicy = bucketPolicy(env.stack, idOf('/DataLake/LedgerBucket/Resource'));
  ledgerTablePolicy = tablePolicy(env.stack, idOf('/Ledger/Resource/Resource'));
}, 240_000);
afterAll(async () => {
  await env?.stop();
});

const incident = (subject: string, id: string, reason = 'test') => ({ kind: 'Incident', subject, id, data: { type: 'drift', reason } }) as const;
const pad = (seq: number) => String(seq).padStart(12, '0');
const recordKey = (id: string) => `ledger/records/${id}.json`;
const linkKey = (chain: string, seq: number) => `ledger/chains/${encodeURIComponent(chain)}/${pad(seq)}.json`;
const copyArn = (key: string) => `arn:aws:s3:::${env.ledgerBucket}/${key}`;
const tableArn = () => env.stack.resolver.resolveString({ 'Fn::GetAtt': [idOf('/Ledger/Resource/Resource'), 'Arn'] }, 'ledger table');

/** The logical id of the stack's resource at this construct path (below the stack). */
function idOf(pathBelowStack: string): string {
  const found = Object.entries(env.stack.template.Resources).find(([, r]) => (cdkPath(r.Metadata) ?? '').replace(/^[^/]+/, '') === pathBelowStack);
  if (!found) throw new Error(`no resource at <stack>${pathBelowStack}`);
  return found[0];
}

/** The kit's roles that may append to the ledger: PutItem on the table and PutObject on its WORM copies. */
async function ledgerWriters(): Promise<TemplateRole[]> {
  const writers: TemplateRole[] = [];
  for (const role of roles) {
    if ((await decide(role, 'dynamodb:PutItem', tableArn(), ledgerTablePolicy)) === 'Allowed') writers.push(role);
  }
  return writers;
}

/** A record item and its link, rewritten as an insider with PutItem would: consistent with each other, no condition. */
async function rewriteInTable(record: LedgerRecord, link: ChainLink): Promise<void> {
  const { body, hash } = sealRecord(record);
  await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: { pk: `REC#${record.id}`, sk: 'REC', id: record.id, kind: record.kind, subject: record.subject, chain: record.chain, createdAt: record.createdAt, body, recordHash: hash, gsi1pk: `SUBJECT#${record.subject}`, gsi1sk: `${record.createdAt}#${record.id}`, gsi2pk: `CHAINREC#${record.chain}`, gsi2sk: `${record.createdAt}#${record.id}` } }));
  await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: { pk: `CHAIN#${link.chain}`, sk: pad(link.seq), gsi1pk: `LINKOF#${link.recordId}`, gsi1sk: `${link.chain}#${pad(link.seq)}`, ...link } }));
}

/** A new version of a WORM copy, as only someone the bucket policy no longer stops could write it (no If-None-Match). */
async function overwriteCopy(key: string, body: string): Promise<void> {
  await env.s3.send(new PutObjectCommand({ Bucket: env.ledgerBucket, Key: key, Body: body, ContentType: 'application/json' }));
}

describe.skipIf(!run)(SUITE, () => {
  it('provisions the ledger bucket as deployed: versioned, Object Lock GOVERNANCE 3650 days on every copy', async () => {
    // Prepare / Act
    const { record } = await env.ledger().append(incident('endpoint/retention', 'inc-ret'));
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: env.ledgerBucket, Key: recordKey(record.id) }));
    // Assess
    expect(head.ObjectLockMode).toBe('GOVERNANCE');
    const days = (head.ObjectLockRetainUntilDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(3649);
    expect(head.VersionId).toBeTruthy();
  });

  it('lets the kit\'s writer roles append (PutObject with If-None-Match) and nothing else on the WORM copies', async () => {
    const writers = await ledgerWriters();
    expect(writers.map((r) => r.path).join('\n')).toMatch(/Ingest/); // several roles do append
    for (const role of writers) {
      const key = copyArn('ledger/records/inc-x.json');
      expect(await decide(role, 's3:PutObject', key, wormPolicy, { 's3:if-none-match': '*' }), role.path).toBe('Allowed');
      expect(await decide(role, 's3:PutObject', key, wormPolicy), `${role.path}: PutObject without If-None-Match`).toBe('ExplicitlyDenied');
      expect(await decide(role, 's3:PutObject', key, wormPolicy, { 's3:if-none-match': '*', 's3:if-match': '"etag"' }), `${role.path}: PutObject with If-Match`).toBe('ExplicitlyDenied');
    }
  });

  it('denies every kit role deleting a WORM copy or a version of it, or shortening, bypassing or lifting its lock', async () => {
    for (const role of roles) {
      for (const action of WORM_GUARDED_ACTIONS) {
        expect(await decide(role, action, copyArn('ledger/records/inc-x.json'), wormPolicy), `${role.path}: ${action}`).not.toBe('Allowed');
      }
    }
  });

  it('denies every kit role updating or deleting a ledger item (the table\'s resource policy)', async () => {
    for (const role of roles) {
      for (const action of LEDGER_DENIED_ACTIONS) expect(await decide(role, action, tableArn(), ledgerTablePolicy), `${role.path}: ${action}`).not.toBe('Allowed');
    }
  });

  it('case 1: a record and its link overwritten in the table, then a new version of both WORM copies: named', async () => {
    // Prepare
    const ledger = env.ledger();
    const { record } = await ledger.append(incident('endpoint/case1', 'inc-c1', 'the truth'));
    // Act: the insider's PutItem (allowed: DynamoDB has no IAM condition on a put's condition expression) ...
    const forged = buildRecord(incident('endpoint/case1', 'inc-c1', 'a rewrite'), new Date(record.createdAt), () => 'x');
    const link = nextLink('endpoint/case1', undefined, forged.id, sealRecord(forged).hash);
    await rewriteInTable(forged, link);
    // ... and the copies: the kit's roles cannot (If-None-Match: 412 on an existing copy, without it the policy denies) ...
    await expect(env.s3.send(new PutObjectCommand({ Bucket: env.ledgerBucket, Key: recordKey(forged.id), Body: sealRecord(forged).body, IfNoneMatch: '*' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    // ... so an administrator past the policy writes new versions
    await overwriteCopy(recordKey(forged.id), sealRecord(forged).body);
    await overwriteCopy(linkKey('endpoint/case1', 1), JSON.stringify(link));
    // Assess
    const report = await ledger.verify('endpoint/case1');
    expect(report).toMatchObject({ ok: false, wormVersionsChecked: true });
    expect(report.problems.map((p) => [p.code, p.key ?? p.recordId])).toEqual(
      expect.arrayContaining([
        ['worm-record-mismatch', 'inc-c1'],
        ['worm-mismatch', 'inc-c1'],
        ['worm-overwritten', recordKey('inc-c1')],
        ['worm-overwritten', linkKey('endpoint/case1', 1)],
      ]),
    );
  });

  it('case 2: a middle record rewritten with every later link and WORM copy: named', async () => {
    // Prepare: four records in one chain
    const ledger = env.ledger();
    const appended = [];
    for (let i = 1; i <= 4; i++) appended.push(await ledger.append(incident('endpoint/case2', `inc-c2-${i}`, `r${i}`)));
    // Act: rewrite record 2, re-link 2..4 consistently, write new versions of all of their copies
    const forged = buildRecord(incident('endpoint/case2', 'inc-c2-2', 'r2 rewritten'), new Date(appended[1]!.record.createdAt), () => 'x');
    let head: ChainLink = appended[0]!.link;
    for (const a of appended.slice(1)) {
      const rec = a.record.id === forged.id ? forged : a.record;
      head = nextLink('endpoint/case2', head, rec.id, sealRecord(rec).hash);
      await rewriteInTable(rec, head);
      await overwriteCopy(linkKey('endpoint/case2', head.seq), JSON.stringify(head));
    }
    await overwriteCopy(recordKey(forged.id), sealRecord(forged).body);
    // Assess
    const report = await ledger.verify('endpoint/case2');
    expect(report.ok).toBe(false);
    const named = report.problems.map((p) => `${p.code}@${p.seq ?? '-'}`);
    expect(named).toEqual(expect.arrayContaining(['worm-record-mismatch@2', 'worm-mismatch@2', 'worm-mismatch@3', 'worm-mismatch@4', 'worm-overwritten@2', 'worm-overwritten@3', 'worm-overwritten@4']));
    expect(named.filter((n) => n.endsWith('@1'))).toEqual([]); // the untouched first link is not blamed
  });

  it('case 3: only a WORM record copy edited: named as a replaced copy', async () => {
    const ledger = env.ledger();
    const { record } = await ledger.append(incident('endpoint/case3', 'inc-c3'));
    await overwriteCopy(recordKey(record.id), sealRecord({ ...record, data: { type: 'drift', reason: 'edited copy' } }).body);
    const report = await ledger.verify('endpoint/case3');
    expect(report.problems).toEqual([expect.objectContaining({ code: 'worm-overwritten', recordId: 'inc-c3', key: recordKey('inc-c3') })]);
  });

  it('case 4: a whole chain removed from the table and its WORM objects: the locked versions stay, the chain is named', async () => {
    // Prepare
    const ledger = env.ledger();
    const a = await ledger.append(incident('endpoint/case4', 'inc-c4-1'));
    const b = await ledger.append(incident('endpoint/case4', 'inc-c4-2'));
    const keys = [recordKey(a.record.id), recordKey(b.record.id), linkKey('endpoint/case4', 1), linkKey('endpoint/case4', 2)];
    // Act: the items (a DeleteItem every kit role is denied, played here as an administrator) ...
    const items = await env.ddb.send(new QueryCommand({ TableName: env.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'CHAIN#endpoint/case4' } }));
    for (const item of items.Items ?? []) await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: { pk: item.pk, sk: item.sk } }));
    for (const id of [a.record.id, b.record.id]) await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: { pk: `REC#${id}`, sk: 'REC' } }));
    await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: { pk: 'CHAINS', sk: 'endpoint/case4' } }));
    // ... and the copies: deleting a locked version is refused by Object Lock itself; a plain delete leaves a marker
    for (const key of keys) {
      const versions = await env.s3.send(new ListObjectVersionsCommand({ Bucket: env.ledgerBucket, Prefix: key }));
      await expect(env.s3.send(new DeleteObjectCommand({ Bucket: env.ledgerBucket, Key: key, VersionId: versions.Versions![0]!.VersionId! }))).rejects.toMatchObject({ name: 'AccessDenied' });
      await env.s3.send(new DeleteObjectCommand({ Bucket: env.ledgerBucket, Key: key }));
    }
    // Assess: the chain is gone from the table and hidden in the bucket, and still named
    const report = (await ledger.verifyAll()).find((r) => r.chain === 'endpoint/case4');
    expect(report).toMatchObject({ ok: false, length: 0 });
    const codes = report!.problems.map((p) => `${p.code}@${p.seq ?? p.recordId}`);
    expect(codes).toEqual(expect.arrayContaining(['missing-link@1', 'missing-link@2', 'worm-deleted@1', 'worm-deleted@2']));
  });

  it('a governance bypass is what the policy stops: on moto (no IAM) it deletes a locked version, and verify then names the hole', async () => {
    // Prepare
    const ledger = env.ledger();
    const { record } = await ledger.append(incident('endpoint/bypass', 'inc-bp'));
    for (const role of roles) expect(await decide(role, 's3:BypassGovernanceRetention', copyArn(recordKey(record.id)), wormPolicy), role.path).toBe('ExplicitlyDenied');
    // Act: what only a principal the policy does not cover could do
    const versions = await env.s3.send(new ListObjectVersionsCommand({ Bucket: env.ledgerBucket, Prefix: recordKey(record.id) }));
    await env.s3.send(new DeleteObjectCommand({ Bucket: env.ledgerBucket, Key: recordKey(record.id), VersionId: versions.Versions![0]!.VersionId!, BypassGovernanceRetention: true }));
    // Assess
    expect((await ledger.verify('endpoint/bypass')).problems).toEqual([expect.objectContaining({ code: 'worm-record-missing', recordId: 'inc-bp' })]);
  });

  it('(control) an intact chain passes, with every version read', async () => {
    const ledger = env.ledger();
    await ledger.append(incident('endpoint/intact', 'inc-ok-1'));
    await ledger.append(incident('endpoint/intact', 'inc-ok-2'));
    const copy = await env.s3.send(new GetObjectCommand({ Bucket: env.ledgerBucket, Key: linkKey('endpoint/intact', 2) }));
    const link = JSON.parse(await copy.Body!.transformToString()) as ChainLink;
    expect(linkHash(link)).toBe(link.hash);
    expect(await ledger.verify('endpoint/intact')).toMatchObject({ ok: true, length: 2, problems: [], wormVersionsChecked: true });
  });
});
