import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { InvalidEventError } from '../core/errors';
import { requireEnv, s3Client } from '../shared/clients';
import { LedgerStore } from '../shared/ledger-store';
import { S3ModelArtifacts } from '../shared/model-artifacts';
import { check, release, rollback, type ReleaseConfig, type ReleaseDeps } from './release';

/*
 * The ONNX endpoint's deployer: { operation: 'release' | 'check' | 'rollback', ... }
 * from the endpoint's release state machine, a pipeline, or an alarm.
 * Environment: ENDPOINT_NAME, FUNCTION_NAME, ALIAS_NAME, CODEDEPLOY_APPLICATION,
 * CODEDEPLOY_DEPLOYMENT_GROUP, REQUIRE_APPROVAL, LEDGER_TABLE, LEDGER_WORM_BUCKET,
 * LEDGER_WORM_PREFIX, POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();
let wiring: { deps: ReleaseDeps; config: ReleaseConfig } | undefined;

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  wiring = {
    deps: { ledger: LedgerStore.fromEnvironment(), models: new S3ModelArtifacts(s3Client()), lambda: new LambdaClient({}), codedeploy: new CodeDeployClient({}), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    config: {
      endpoint: requireEnv('ENDPOINT_NAME'),
      functionName: requireEnv('FUNCTION_NAME'),
      alias: process.env.ALIAS_NAME ?? 'live',
      application: requireEnv('CODEDEPLOY_APPLICATION'),
      deploymentGroup: requireEnv('CODEDEPLOY_DEPLOYMENT_GROUP'),
      requireApproval: process.env.REQUIRE_APPROVAL !== 'false',
    },
  };
  return wiring;
}

const OPERATIONS = { release, check, rollback } as const;

export const handler = middy(async (event: unknown): Promise<unknown> => {
  const { deps, config } = wire();
  const e = (event ?? {}) as Record<string, unknown>;
  const operation = OPERATIONS[e.operation as keyof typeof OPERATIONS] as ((event: Record<string, unknown>, deps: ReleaseDeps, config: ReleaseConfig) => Promise<unknown>) | undefined;
  if (!operation) throw new InvalidEventError(`operation: expected one of ${Object.keys(OPERATIONS).join(', ')} (got ${JSON.stringify(e.operation)})`);
  const result = (await operation(e, deps, config)) as { done?: boolean; succeeded?: boolean };
  metrics.addMetric(`Operation_${String(e.operation)}`, MetricUnit.Count, 1);
  if (e.operation === 'check' && result.done) metrics.addMetric(result.succeeded ? 'ReleasesSucceeded' : 'ReleasesRolledBack', MetricUnit.Count, 1);
  if (e.operation === 'rollback') metrics.addMetric('Rollbacks', MetricUnit.Count, 1);
  logger.info('endpoint deployer', { operation: e.operation, result });
  return result;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
