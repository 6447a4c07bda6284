/** Names shared by the ledger table's construct and its library (no SDK imports, so synth stays light). */
export const LEDGER_INDEX_LOOKUP = 'lookup';
export const LEDGER_INDEX_BY_CHAIN = 'byChain';

/** Environment variables `LedgerStore.fromEnvironment()` reads. */
export const LEDGER_ENV = {
  table: 'LEDGER_TABLE',
  wormBucket: 'LEDGER_WORM_BUCKET',
  wormPrefix: 'LEDGER_WORM_PREFIX',
} as const;

/** Keys of the ledger table's items, shared by the writer (LedgerStore) and the SDK-free reader. */
export const LEDGER_KEYS = {
  /** A record's item. */
  record: (id: string): { pk: string; sk: string } => ({ pk: `REC#${id}`, sk: 'REC' }),
  /** The `lookup` index's partition of a subject's records, by time. */
  subject: (subject: string): string => `SUBJECT#${subject}`,
  /** The query for a subject's records, oldest first. */
  history: (subject: string) => ({ IndexName: LEDGER_INDEX_LOOKUP, KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': `SUBJECT#${subject}` } }),
} as const;
