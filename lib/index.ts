export * from './bias-gate';
export * from './data-lake';
export * from './dataset-ingest';
export * from './lineage-ledger';
export * from './mlops-settings';
export * from './mlops-stack';
export * from './validation-gate';
export type * from '../lambdas/core/lineage';
export { LedgerStore, type AppendResult, type LedgerStoreOptions } from '../lambdas/shared/ledger-store';
