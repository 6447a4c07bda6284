import type { LedgerRecord } from './lineage';

/*
 * What an endpoint serves, read from its ledger chain (`endpoint/<name>`):
 * every release is a Deployment record, in order; one that was rolled back
 * says so in its status, and a rollback is a Deployment of its own (reason
 * 'rollback'). Nothing here talks to AWS.
 */

/** How the first model of an endpoint goes live: at once (a canary protects a model that serves; before it, nothing does). */
export const INITIAL_DEPLOYMENT_CONFIG = 'CodeDeployDefault.LambdaAllAtOnce';

/** The ledger subject (and chain) of an endpoint. */
export const endpointSubject = (endpoint: string): string => `endpoint/${endpoint}`;

const isDeployment = (r: LedgerRecord): r is LedgerRecord<'Deployment'> => r.kind === 'Deployment';

/** The release serving now: the last Deployment of the chain that succeeded. */
export function servingDeployment(history: readonly LedgerRecord[]): LedgerRecord<'Deployment'> | undefined {
  return history.filter(isDeployment).filter((d) => d.data.status === 'succeeded').at(-1);
}

/**
 * The release to roll back to: the last succeeded Deployment before the one
 * serving now whose model differs from it (the previous approved model).
 */
export function rollbackTarget(history: readonly LedgerRecord[]): { serving: LedgerRecord<'Deployment'>; previous: LedgerRecord<'Deployment'> } | undefined {
  const succeeded = history.filter(isDeployment).filter((d) => d.data.status === 'succeeded');
  const serving = succeeded.at(-1);
  if (!serving) return undefined;
  const previous = succeeded.slice(0, -1).reverse().find((d) => d.data.modelVersionId !== serving.data.modelVersionId);
  return previous ? { serving, previous } : undefined;
}
