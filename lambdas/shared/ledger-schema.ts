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

/** Digits of a chain position in keys (table sort keys, link copies), so that they sort by position. */
export const LEDGER_SEQ_WIDTH = 12;

/**
 * Keys of the WORM copies under the ledger's prefix, shared by the writer (LedgerStore), `verify`
 * and the SDK-free reader: `<prefix>records/<id>.json` and `<prefix>chains/<chain>/<seq:12>.json`.
 */
export const WORM_KEYS = {
  record: (prefix: string, id: string): string => `${prefix}records/${id}.json`,
  /** The record id a record copy's key names (undefined: not a record copy). */
  recordIdOf: (prefix: string, key: string): string | undefined => (key.startsWith(`${prefix}records/`) && key.endsWith('.json') ? key.slice(`${prefix}records/`.length, -'.json'.length) : undefined),
  /** Where a chain's link copies are (ends in '/'). */
  chain: (prefix: string, chain: string): string => `${prefix}chains/${encodeURIComponent(chain)}/`,
  link: (prefix: string, chain: string, seq: number): string => `${WORM_KEYS.chain(prefix, chain)}${String(seq).padStart(LEDGER_SEQ_WIDTH, '0')}.json`,
  /** The position a link copy's key names under its chain's prefix (undefined: not a link copy). */
  seqOf: (chainPrefix: string, key: string): number | undefined => {
    const m = key.startsWith(chainPrefix) ? /^(\d+)\.json$/.exec(key.slice(chainPrefix.length)) : null;
    return m ? Number(m[1]) : undefined;
  },
} as const;
