/** Names shared by the ledger table's construct and its library (no SDK imports, so synth stays light). */
export const LEDGER_INDEX_LOOKUP = 'lookup';
export const LEDGER_INDEX_BY_CHAIN = 'byChain';

/** Environment variables `LedgerStore.fromEnvironment()` reads. */
export const LEDGER_ENV = {
  table: 'LEDGER_TABLE',
  wormBucket: 'LEDGER_WORM_BUCKET',
  wormPrefix: 'LEDGER_WORM_PREFIX',
} as const;
