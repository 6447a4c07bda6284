import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { DriftThresholds } from '../core/drift';
import { ArtifactStore } from '../shared/artifact-store';
import { s3Client } from '../shared/clients';
import { requireEnv } from '../shared/env';
import { LedgerStore } from '../shared/ledger-store';
import { S3ObjectReader } from '../shared/s3-objects';
import { parseValidationGateEvent, runValidationGate, type ValidationGateDeps, type ValidationGateResult, type ValidationGateSettings } from './gate';

/*
 * ValidationGate Lambda: { datasetVersionId, baselineProfileKey? } -> ValidationGateResult.
 * Environment: LEDGER_TABLE, LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX, ARTIFACTS_BUCKET,
 * CONTRACTS_PREFIX, PROFILES_PREFIX, REPORTS_PREFIX, DRIFT_THRESHOLDS (JSON),
 * COLUMN_DRIFT_THRESHOLDS (JSON), PROFILE_WORKERS (threads for big text files; the construct
 * sets one per vCPU the memory buys), POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();
let wiring: { deps: ValidationGateDeps; settings: ValidationGateSettings } | undefined;

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  const s3 = s3Client();
  const json = <T>(name: string): T | undefined => (process.env[name] ? (JSON.parse(process.env[name]) as T) : undefined);
  wiring = {
    deps: { ledger: LedgerStore.fromEnvironment(), objects: new S3ObjectReader(s3), artifacts: new ArtifactStore(s3, requireEnv('ARTIFACTS_BUCKET')) },
    settings: {
      contractsPrefix: process.env.CONTRACTS_PREFIX ?? 'contracts/',
      profilesPrefix: process.env.PROFILES_PREFIX ?? 'profiles/',
      reportsPrefix: process.env.REPORTS_PREFIX ?? 'reports/',
      driftThresholds: json<DriftThresholds>('DRIFT_THRESHOLDS'),
      columnDriftThresholds: json<Record<string, DriftThresholds>>('COLUMN_DRIFT_THRESHOLDS'),
    },
  };
  return wiring;
}

export const handler = middy(async (event: unknown): Promise<ValidationGateResult> => {
  const { deps, settings } = wire();
  const profileWorkers = Math.max(1, Math.floor(Number(process.env.PROFILE_WORKERS ?? 1)) || 1);
  const result = await runValidationGate(parseValidationGateEvent(event), deps, { ...settings, profileWorkers });
  metrics.addMetric(result.passed ? 'ValidationGatePassed' : 'ValidationGateFailed', MetricUnit.Count, 1);
  // the gate's key number, for the operations dashboard: contract violations and drifted columns
  metrics.addMetric('ValidationChecksFailed', MetricUnit.Count, result.reasons.length);
  logger.info(result.passed ? 'validation gate passed' : 'validation gate failed', { result });
  return result;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
