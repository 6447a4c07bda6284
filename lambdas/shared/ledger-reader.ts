import type { LedgerRecord } from '../core/lineage';
import { DynamoDbHttp } from './dynamodb-http';
import { LEDGER_ENV, LEDGER_KEYS } from './ledger-schema';
import { requireEnv } from './env';

/**
 * Reads ledger records by id and by subject over DynamoDbHttp (no SDK): what
 * an inference function needs at cold start. Same items, keys and order as
 * LedgerStore's `get` and `history`; writing stays with LedgerStore.
 */
export class LedgerReader {
  constructor(
    private readonly ddb: DynamoDbHttp,
    private readonly table: string,
  ) {}

  /** A reader of the table named by LEDGER_TABLE, with the environment's region, credentials and endpoint. */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): LedgerReader {
    return new LedgerReader(DynamoDbHttp.fromEnvironment(env), requireEnv(LEDGER_ENV.table, env));
  }

  /** The record with this id. */
  async get(id: string): Promise<LedgerRecord | undefined> {
    const item = await this.ddb.getItem(this.table, LEDGER_KEYS.record(id), true);
    return item ? (JSON.parse(item.body as string) as LedgerRecord) : undefined;
  }

  /** Every record about a subject, oldest first. */
  async history(subject: string): Promise<LedgerRecord[]> {
    const items = await this.ddb.query({ TableName: this.table, ...LEDGER_KEYS.history(subject) });
    return items.map((i) => JSON.parse(i.body as string) as LedgerRecord);
  }
}
