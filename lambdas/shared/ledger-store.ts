import { randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type BatchGetCommandOutput, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { LedgerContentionError } from '../core/errors';
import { dynamoDocumentClient, s3Client } from './clients';
import { requireEnv } from './env';
import { listObjects } from './s3-objects';
import { LEDGER_ENV, LEDGER_INDEX_BY_CHAIN, LEDGER_INDEX_LOOKUP, LEDGER_KEYS, LEDGER_SEQ_WIDTH, WORM_KEYS } from './ledger-schema';
import {
  buildRecord,
  nextLink,
  sealRecord,
  verifyChain,
  type ChainLink,
  type LedgerRecord,
  type RecordDraft,
  type RecordKind,
  type StoredRecord,
  type VerifyReport,
  type WormKeyHistory,
} from '../core/lineage';

/*
 * The lineage ledger on DynamoDB, with WORM copies in the Object-Locked bucket.
 *
 * Every write is a PutItem with `attribute_not_exists(pk)`: nothing is ever
 * updated or deleted, and the writer role is granted nothing else. Items:
 *
 *   pk                     sk           what
 *   REC#<id>               REC          the record: canonical JSON body + its hash
 *   CHAIN#<chain>          <seq:12>     a chain link (record hash, previous link hash)
 *   CHILDREN#<parent id>   <child id>   a derivation edge, for "everything derived from X"
 *   CHAINS                 <chain>      the chain registry, for verifying everything
 *
 * Index `lookup` (gsi1pk, gsi1sk): SUBJECT#<subject> -> records by time;
 * LINKOF#<record id> -> the record's link. Index `byChain` (gsi2pk, gsi2sk):
 * records of a chain, to find any that no link names.
 *
 * Appending takes two conditional puts, because DynamoDB Local emulators lack
 * transactions and the protocol does not need them: (1) the record, keyed by its
 * id, so a duplicate (same deterministic id) writes nothing; (2) a link at the
 * next free sequence number, retried on a lost race, so concurrent writers can
 * neither fork the chain nor lose a record. A writer that finds the record
 * already written waits for its link; if the first writer died between the two
 * puts, the duplicate links it. In the rare case both link it, the later link is
 * a harmless redundant one (same record hash) that `verify` counts, not flags.
 *
 * The WORM copies are the authority. The table is what any role holding PutItem
 * can overwrite (a condition expression is the client's choice, not the table's),
 * so `verify` checks every record and link of the table against the first version
 * of its WORM copy, and lists every version of the copies: a second version or a
 * delete marker under a ledger key is tampering, named as such. The bucket policy
 * (LineageLedger) makes both impossible below the break-glass role.
 */

export { LEDGER_INDEX_BY_CHAIN, LEDGER_INDEX_LOOKUP };

const pad = (seq: number): string => String(seq).padStart(LEDGER_SEQ_WIDTH, '0');

export interface LedgerStoreOptions {
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  /** S3 client for the WORM copies. */
  readonly s3: S3Client;
  /** Object-Locked bucket that receives a copy of every record and link. */
  readonly wormBucket: string;
  /** @default 'ledger/' */
  readonly wormPrefix?: string;
  /** @default - the system clock */
  readonly now?: () => Date;
  /** @default - a random UUID */
  readonly randomId?: () => string;
  /** How many lost races for the chain head before giving up. @default 200 */
  readonly maxLinkAttempts?: number;
  /** How long a duplicate writer waits for the first writer's link before linking the record itself. @default 5000 */
  readonly linkWaitMs?: number;
}

export interface AppendResult<K extends RecordKind = RecordKind> {
  readonly record: LedgerRecord<K>;
  readonly link: ChainLink;
  /** False when the record already existed (a duplicate append). */
  readonly created: boolean;
}

interface RecordItem {
  pk: string;
  id: string;
  kind: RecordKind;
  subject: string;
  chain: string;
  createdAt: string;
  body: string;
  recordHash: string;
}

export class LedgerStore {
  private readonly ddb: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly now: () => Date;
  private readonly randomId: () => string;
  private readonly maxLinkAttempts: number;
  private readonly linkWaitMs: number;

  constructor(options: LedgerStoreOptions) {
    this.ddb = options.ddb;
    this.table = options.tableName;
    this.s3 = options.s3;
    this.bucket = options.wormBucket;
    this.prefix = options.wormPrefix ?? 'ledger/';
    this.now = options.now ?? (() => new Date());
    this.randomId = options.randomId ?? randomUUID;
    this.maxLinkAttempts = options.maxLinkAttempts ?? 200;
    this.linkWaitMs = options.linkWaitMs ?? 5000;
  }

  /** A store configured from LEDGER_TABLE, LEDGER_WORM_BUCKET and LEDGER_WORM_PREFIX. */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): LedgerStore {
    return new LedgerStore({
      ddb: dynamoDocumentClient(env),
      s3: s3Client(env),
      tableName: requireEnv(LEDGER_ENV.table, env),
      wormBucket: requireEnv(LEDGER_ENV.wormBucket, env),
      wormPrefix: env[LEDGER_ENV.wormPrefix] ?? 'ledger/',
    });
  }

  /**
   * Appends a record and links it into its chain. Idempotent for drafts with a
   * deterministic id: a second append returns the first record, `created: false`.
   */
  async append<K extends RecordKind>(draft: RecordDraft<K>): Promise<AppendResult<K>> {
    const record = buildRecord(draft, this.now(), this.randomId);
    const { body, hash } = sealRecord(record);
    const item: RecordItem = {
      pk: LEDGER_KEYS.record(record.id).pk,
      id: record.id,
      kind: record.kind,
      subject: record.subject,
      chain: record.chain,
      createdAt: record.createdAt,
      body,
      recordHash: hash,
    };
    const created = await this.putIfAbsent({
      ...item,
      sk: 'REC',
      gsi1pk: LEDGER_KEYS.subject(record.subject),
      gsi1sk: `${record.createdAt}#${record.id}`,
      gsi2pk: `CHAINREC#${record.chain}`,
      gsi2sk: `${record.createdAt}#${record.id}`,
    });
    if (created) {
      const link = await this.link(item);
      await this.writeCopies(item, link, record);
      return { record, link, created };
    }
    const existing = await this.complete(record.id);
    if (!existing) throw new Error(`record ${record.id} exists but cannot be read back`);
    return existing as AppendResult<K>;
  }

  /**
   * For a record that already exists: makes sure it is linked and copied (a
   * writer may have died between its puts) and returns it; undefined if absent.
   */
  async complete(id: string): Promise<AppendResult | undefined> {
    const item = await this.getItem(id);
    if (!item) return undefined;
    const record = JSON.parse(item.body) as LedgerRecord;
    const link = (await this.waitForLink(id)) ?? (await this.link(item));
    await this.writeCopies(item, link, record);
    return { record, link, created: false };
  }

  /** The record with this id. */
  async get(id: string): Promise<LedgerRecord | undefined> {
    const item = await this.getItem(id);
    return item ? (JSON.parse(item.body) as LedgerRecord) : undefined;
  }

  /** Every record about a subject, oldest first. */
  async history(subject: string): Promise<LedgerRecord[]> {
    const items = await this.queryAll<RecordItem>(LEDGER_KEYS.history(subject));
    return items.map((i) => JSON.parse(i.body) as LedgerRecord);
  }

  /** The chain's links, in order. */
  async links(chain: string): Promise<ChainLink[]> {
    const items = await this.queryAll<ChainLink>({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `CHAIN#${chain}` }, ConsistentRead: true });
    return items.map(toLink);
  }

  /** Every chain the ledger holds. */
  async chains(): Promise<string[]> {
    const items = await this.queryAll<{ sk: string }>({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'CHAINS' }, ConsistentRead: true });
    return items.map((i) => i.sk);
  }

  /** Everything derived from a record, transitively (breadth first, each once). */
  async derivedFrom(id: string): Promise<LedgerRecord[]> {
    return this.walk(id, async (current) => {
      const items = await this.queryAll<{ sk: string }>({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `CHILDREN#${current}` } });
      return items.map((i) => i.sk);
    });
  }

  /** Everything a record derives from, transitively. */
  async ancestors(id: string): Promise<LedgerRecord[]> {
    return this.walk(id, async (current) => (await this.get(current))?.parents ?? []);
  }

  /**
   * Verifies one chain against the table and the WORM copies: the table's links and records
   * against the first version of each copy, and every version of the copies listed.
   */
  async verify(chain: string): Promise<VerifyReport> {
    return this.verifyWith(chain);
  }

  /** Verifies every chain, including chains only the WORM bucket still knows (a delete marker included). */
  async verifyAll(): Promise<VerifyReport[]> {
    const worm = await this.listWorm(this.prefix);
    const wormChains = worm.byChain(this.prefix);
    const chains = [...new Set([...(await this.chains()), ...wormChains.keys()])].sort();
    const none = new WormListing(new Map(), worm.versioned);
    const reports: VerifyReport[] = [];
    for (let i = 0; i < chains.length; i += READ_CONCURRENCY) {
      reports.push(...(await Promise.all(chains.slice(i, i + READ_CONCURRENCY).map((c) => this.verifyWith(c, { links: wormChains.get(c) ?? none, records: worm })))));
    }
    return reports;
  }

  /** One chain, with the WORM listing already made (verifyAll: one listing of the whole prefix) or listed here. */
  private async verifyWith(chain: string, listing?: { links: WormListing; records: WormListing }): Promise<VerifyReport> {
    const chainPrefix = WORM_KEYS.chain(this.prefix, chain);
    const [links, chainRecords, linkCopies] = await Promise.all([
      this.links(chain),
      this.queryAll<RecordItem>({ IndexName: LEDGER_INDEX_BY_CHAIN, KeyConditionExpression: 'gsi2pk = :pk', ExpressionAttributeValues: { ':pk': `CHAINREC#${chain}` } }),
      listing ? Promise.resolve(listing.links) : this.listWorm(chainPrefix),
    ]);
    const ids = [...new Set(links.map((l) => l.recordId))];
    const recordKey = (id: string) => WORM_KEYS.record(this.prefix, id);
    const [records, recordCopies] = await Promise.all([
      this.batchGet(ids),
      listing ? Promise.resolve(listing.records.only(ids.map(recordKey))) : this.listWormKeys(ids.map(recordKey)),
    ]);
    const wormLinks = new Map<number, ChainLink>();
    for (const [key, body] of await this.readFirstVersions(linkCopies, [...linkCopies.keys.keys()].filter((k) => WORM_KEYS.seqOf(chainPrefix, k) !== undefined))) {
      wormLinks.set(WORM_KEYS.seqOf(chainPrefix, key)!, toLink(JSON.parse(body) as ChainLink));
    }
    const wormRecords = new Map<string, StoredRecord>();
    for (const [key, body] of await this.readFirstVersions(recordCopies, [...recordCopies.keys.keys()])) {
      const id = WORM_KEYS.recordIdOf(this.prefix, key)!;
      wormRecords.set(id, { id, body });
    }
    const wormHistory: WormKeyHistory[] = [];
    for (const copies of [linkCopies, recordCopies]) {
      for (const [key, k] of copies.keys) {
        if (k.versionIds.length <= 1 && k.deleteMarkers === 0) continue;
        const seq = WORM_KEYS.seqOf(chainPrefix, key);
        const recordId = seq === undefined ? WORM_KEYS.recordIdOf(this.prefix, key) : wormLinks.get(seq)?.recordId;
        wormHistory.push({ key, versions: k.versionIds.length, deleteMarkers: k.deleteMarkers, ...(seq !== undefined ? { seq } : {}), ...(recordId ? { recordId } : {}) });
      }
    }
    const versioned = linkCopies.versioned && recordCopies.versioned;
    return verifyChain({ chain, links, records, wormLinks, wormRecords, chainRecordIds: chainRecords.map((r) => r.id), ...(versioned ? { wormHistory } : {}) });
  }

  private async link(item: RecordItem): Promise<ChainLink> {
    for (let attempt = 0; attempt < this.maxLinkAttempts; attempt++) {
      const head = await this.head(item.chain);
      const link = nextLink(item.chain, head, item.id, item.recordHash);
      const won = await this.putIfAbsent({ pk: `CHAIN#${link.chain}`, sk: pad(link.seq), gsi1pk: `LINKOF#${link.recordId}`, gsi1sk: `${link.chain}#${pad(link.seq)}`, ...link });
      if (won) {
        if (link.seq === 1) await this.putIfAbsent({ pk: 'CHAINS', sk: link.chain });
        return link;
      }
      await sleep(Math.min(200, 2 ** Math.min(attempt, 7)) * Math.random());
    }
    throw new LedgerContentionError(`chain ${item.chain}: lost ${this.maxLinkAttempts} races for the head while linking ${item.id}`);
  }

  private async waitForLink(recordId: string): Promise<ChainLink | undefined> {
    const deadline = Date.now() + this.linkWaitMs;
    for (;;) {
      const found = await this.queryAll<ChainLink>({ IndexName: LEDGER_INDEX_LOOKUP, KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': `LINKOF#${recordId}` }, Limit: 1 }, 1);
      if (found[0]) return toLink(found[0]);
      if (Date.now() >= deadline) return undefined;
      await sleep(50);
    }
  }

  private async head(chain: string): Promise<ChainLink | undefined> {
    const out = await this.ddb.send(new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `CHAIN#${chain}` }, ScanIndexForward: false, Limit: 1, ConsistentRead: true }));
    const item = out.Items?.[0];
    return item ? toLink(item as ChainLink) : undefined;
  }

  /** Edges and WORM copies: idempotent, so a retried append completes them. */
  private async writeCopies(item: RecordItem, link: ChainLink, record: LedgerRecord): Promise<void> {
    await Promise.all([
      ...record.parents.map((parent) => this.putIfAbsent({ pk: `CHILDREN#${parent}`, sk: record.id, kind: record.kind })),
      this.putWorm(WORM_KEYS.record(this.prefix, item.id), item.body),
      this.putWorm(WORM_KEYS.link(this.prefix, link.chain, link.seq), JSON.stringify(link)),
    ]);
  }

  private async putWorm(key: string, body: string): Promise<void> {
    try {
      // If-None-Match: the first copy stands; Object Lock keeps it from deletion.
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }));
    } catch (err) {
      if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 412 || err.name === 'PreconditionFailed')) return;
      throw err;
    }
  }

  /**
   * Every version and delete marker under a prefix of the WORM bucket. A store that cannot list
   * versions (s3rver; `versioned: false`) is listed by its current objects instead (listObjects).
   */
  private async listWorm(prefix: string): Promise<WormListing> {
    const keys = new Map<string, WormKey>();
    const entry = (key: string): WormKey => {
      let k = keys.get(key);
      if (!k) keys.set(key, (k = { versionIds: [], deleteMarkers: 0 }));
      return k;
    };
    try {
      let keyMarker: string | undefined;
      let versionMarker: string | undefined;
      do {
        const out = await this.s3.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
        // newest first within a key, as S3 lists them: the last one listed is the version written first
        for (const v of out.Versions ?? []) entry(v.Key!).versionIds.push(v.VersionId ?? 'null');
        for (const d of out.DeleteMarkers ?? []) entry(d.Key!).deleteMarkers++;
        [keyMarker, versionMarker] = out.IsTruncated ? [out.NextKeyMarker, out.NextVersionIdMarker] : [undefined, undefined];
      } while (keyMarker);
      return new WormListing(keys, true);
    } catch (err) {
      if (!cannotListVersions(err)) throw err;
    }
    for await (const c of listObjects(this.s3, this.bucket, prefix)) entry(c.Key).versionIds.push('null');
    return new WormListing(keys, false);
  }

  /** The listing of these exact keys (a prefix listing each, so `records/a.json` never lists `records/ab.json`). */
  private async listWormKeys(keys: readonly string[]): Promise<WormListing> {
    const listings: WormListing[] = [];
    for (let i = 0; i < keys.length; i += READ_CONCURRENCY) listings.push(...(await Promise.all(keys.slice(i, i + READ_CONCURRENCY).map(async (key) => (await this.listWorm(key)).only([key])))));
    return WormListing.merge(listings);
  }

  /** The body of each key's first version (the one written once); keys with no version left are absent. */
  private async readFirstVersions(listing: WormListing, keys: readonly string[]): Promise<Map<string, string>> {
    const bodies = new Map<string, string>();
    const readable = keys.filter((k) => (listing.keys.get(k)?.versionIds.length ?? 0) > 0);
    for (let i = 0; i < readable.length; i += READ_CONCURRENCY) {
      await Promise.all(
        readable.slice(i, i + READ_CONCURRENCY).map(async (key) => {
          const first = listing.keys.get(key)!.versionIds.at(-1)!;
          const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(first !== 'null' && listing.versioned ? { VersionId: first } : {}) }));
          bodies.set(key, await out.Body!.transformToString('utf8'));
        }),
      );
    }
    return bodies;
  }

  private async walk(start: string, next: (id: string) => Promise<readonly string[]>): Promise<LedgerRecord[]> {
    const seen = new Set<string>([start]);
    const out: LedgerRecord[] = [];
    let frontier = [start];
    while (frontier.length > 0) {
      const ids = (await Promise.all(frontier.map(next))).flat().filter((id) => !seen.has(id));
      ids.forEach((id) => seen.add(id));
      const records = await this.batchGet(ids);
      for (const id of ids) {
        const r = records.get(id);
        if (r) out.push(JSON.parse(r.body) as LedgerRecord);
      }
      frontier = ids;
    }
    return out;
  }

  private async getItem(id: string): Promise<RecordItem | undefined> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: LEDGER_KEYS.record(id), ConsistentRead: true }));
    return out.Item as RecordItem | undefined;
  }

  private async batchGet(ids: readonly string[]): Promise<Map<string, StoredRecord>> {
    const found = new Map<string, StoredRecord>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((id) => LEDGER_KEYS.record(id));
      while (keys && keys.length > 0) {
        const out: BatchGetCommandOutput = await this.ddb.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of (out.Responses?.[this.table] ?? []) as RecordItem[]) found.set(item.id, { id: item.id, body: item.body });
        keys = out.UnprocessedKeys?.[this.table]?.Keys;
      }
    }
    return found;
  }

  private async putIfAbsent(item: Record<string, unknown>): Promise<boolean> {
    try {
      await this.ddb.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  private async queryAll<T>(input: Omit<QueryCommandInput, 'TableName'>, max = Infinity): Promise<T[]> {
    const items: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(new QueryCommand({ TableName: this.table, ...input, ExclusiveStartKey: start }));
      items.push(...((out.Items ?? []) as T[]));
      start = out.LastEvaluatedKey;
    } while (start && items.length < max);
    return items;
  }
}

/** How many WORM objects (or chains) are read at once. */
const READ_CONCURRENCY = 16;

interface WormKey {
  /** Newest first; 'null' for an object of an unversioned store. */
  readonly versionIds: string[];
  deleteMarkers: number;
}

/** What the WORM bucket holds under a prefix: each key's versions and delete markers. */
class WormListing {
  constructor(
    readonly keys: ReadonlyMap<string, WormKey>,
    /** Whether versions and delete markers were listed (false: current objects only). */
    readonly versioned: boolean,
  ) {}

  only(keys: readonly string[]): WormListing {
    return new WormListing(new Map(keys.flatMap((k) => (this.keys.has(k) ? [[k, this.keys.get(k)!] as const] : []))), this.versioned);
  }

  /** The listing split by chain (`<prefix>chains/<chain>/…`), in one pass over the keys. */
  byChain(prefix: string): Map<string, WormListing> {
    const groups = new Map<string, Map<string, WormKey>>();
    for (const [key, k] of this.keys) {
      const m = /^chains\/([^/]+)\/\d+\.json$/.exec(key.slice(prefix.length));
      if (!key.startsWith(prefix) || !m) continue;
      const chain = decodeURIComponent(m[1]!);
      if (!groups.has(chain)) groups.set(chain, new Map());
      groups.get(chain)!.set(key, k);
    }
    return new Map([...groups].map(([chain, keys]) => [chain, new WormListing(keys, this.versioned)]));
  }

  static merge(listings: readonly WormListing[]): WormListing {
    return new WormListing(new Map(listings.flatMap((l) => [...l.keys])), listings.every((l) => l.versioned));
  }
}

/** The store answers that it cannot list object versions (s3rver: MethodNotAllowed; others: NotImplemented). */
function cannotListVersions(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return ['MethodNotAllowed', 'NotImplemented'].includes((err as Error).name) || status === 405 || status === 501;
}

function toLink(item: ChainLink): ChainLink {
  return { chain: item.chain, seq: Number(item.seq), recordId: item.recordId, recordHash: item.recordHash, prevHash: item.prevHash, hash: item.hash };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
