import type { LedgerRecord } from '../core/lineage';
import { DynamoDbHttp } from './dynamodb-http';
import { LEDGER_ENV, LEDGER_KEYS, WORM_KEYS } from './ledger-schema';
import { requireEnv } from './env';
import { ModelIntegrityError } from './model-artifacts';
import { S3Http } from './s3-http';

/**
 * A ledger record the table holds does not match its WORM copy (or has none): the table was
 * rewritten, and nothing it says is trusted. An integrity failure, as a model whose bytes differ.
 */
export class LedgerIntegrityError extends ModelIntegrityError {}

/** Where the ledger's WORM copies are: the authority the table's records are checked against. */
export interface WormCopies {
  readonly s3: S3Http;
  readonly bucket: string;
  /** @default 'ledger/' */
  readonly prefix?: string;
}

/**
 * Reads ledger records by id and by subject over DynamoDbHttp (no SDK): what
 * an inference function needs at cold start. Same items, keys and order as
 * LedgerStore's `get` and `history`; writing stays with LedgerStore.
 *
 * With the WORM copies given, `get` reads the record's copy beside its item (one more
 * request, at once) and refuses a record whose item differs from it or that has none
 * (LedgerIntegrityError): a role that may PutItem can rewrite the table, not the copies.
 * `history` reads the table only; take what it finds through `get` to trust it.
 */
export class LedgerReader {
  constructor(
    private readonly ddb: DynamoDbHttp,
    private readonly table: string,
    private readonly worm?: WormCopies,
  ) {}

  /** A reader of the table named by LEDGER_TABLE, checked against the copies in LEDGER_WORM_BUCKET (when set). */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): LedgerReader {
    const bucket = env[LEDGER_ENV.wormBucket];
    const worm = bucket ? { s3: S3Http.fromEnvironment(env), bucket, prefix: env[LEDGER_ENV.wormPrefix] ?? 'ledger/' } : undefined;
    return new LedgerReader(DynamoDbHttp.fromEnvironment(env), requireEnv(LEDGER_ENV.table, env), worm);
  }

  /** The record with this id, as its WORM copy has it (when the reader has the copies). */
  async get(id: string): Promise<LedgerRecord | undefined> {
    const copyKey = this.worm ? WORM_KEYS.record(this.worm.prefix ?? 'ledger/', id) : undefined;
    const [item, copy] = await Promise.all([this.ddb.getItem(this.table, LEDGER_KEYS.record(id), true), this.worm && copyKey ? this.worm.s3.getText(this.worm.bucket, copyKey) : undefined]);
    if (!item) return undefined;
    const body = item.body as string;
    if (this.worm) {
      const where = `s3://${this.worm.bucket}/${copyKey}`;
      if (copy === undefined) throw new LedgerIntegrityError(`ledger record ${id} has no WORM copy (${where}); refusing to trust it`);
      if (copy !== body) throw new LedgerIntegrityError(`ledger record ${id} in the table differs from its WORM copy (${where}): the table was rewritten; refusing to trust it`);
    }
    return JSON.parse(body) as LedgerRecord;
  }

  /** Every record about a subject, oldest first (as the table has them: not checked against the copies). */
  async history(subject: string): Promise<LedgerRecord[]> {
    const items = await this.ddb.query({ TableName: this.table, ...LEDGER_KEYS.history(subject) });
    return items.map((i) => JSON.parse(i.body as string) as LedgerRecord);
  }
}
