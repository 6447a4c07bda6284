import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SageMakerClient, type DeploymentConfig } from '@aws-sdk/client-sagemaker';
import { InvalidEventError } from '../core/errors';
import { ArtifactStore } from '../shared/artifact-store';
import { s3Client } from '../shared/clients';
import { requireEnv } from '../shared/env';
import { objectDigest, S3ObjectReader } from '../shared/s3-objects';
import { LedgerStore } from '../shared/ledger-store';
import { S3ModelArtifacts } from '../shared/model-artifacts';
import * as lambdaRelease from './release';
import * as sagemakerRelease from './sagemaker-release';

/*
 * An endpoint's deployer: { operation: 'release' | 'check' | 'rollback', ... }
 * from the endpoint's release state machine, a pipeline or an operator, and
 * (onnx) { operation: 'alarm-rollback', alarmName, time, reason } from the
 * health alarm's EventBridge rule.
 * ENDPOINT_KIND 'onnx' (a Lambda alias through CodeDeploy) or 'sagemaker'
 * (UpdateEndpoint with the endpoint's guardrails).
 * Environment: ENDPOINT_KIND, ENDPOINT_NAME, REQUIRE_APPROVAL, LEDGER_TABLE,
 * LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX, POWERTOOLS_SERVICE_NAME,
 * POWERTOOLS_METRICS_NAMESPACE; onnx: FUNCTION_NAME, ALIAS_NAME,
 * CODEDEPLOY_APPLICATION, CODEDEPLOY_DEPLOYMENT_GROUP, ROLLBACK_WINDOW_MINUTES, and with contract
 * checks CONTRACTS_PREFIX and ARTIFACTS_BUCKET; sagemaker: DEPLOYMENT_CONFIG (JSON).
 */

const logger = new Logger();
const metrics = new Metrics();
type Operation = (event: Record<string, unknown>) => Promise<unknown>;
let operations: Record<string, Operation> | undefined;

function wire(): Record<string, Operation> {
  if (operations) return operations;
  const ledger = LedgerStore.fromEnvironment();
  const endpoint = requireEnv('ENDPOINT_NAME');
  const requireApproval = process.env.REQUIRE_APPROVAL !== 'false';
  const s3 = s3Client();
  if (process.env.ENDPOINT_KIND === 'sagemaker') {
    const deps: sagemakerRelease.SageMakerReleaseDeps = {
      ledger,
      sagemaker: new SageMakerClient({}),
      hashObject: async (uri) => (await objectDigest(s3, uri)).sha256,
    };
    const config: sagemakerRelease.SageMakerReleaseConfig = { endpoint, requireApproval, deploymentConfig: JSON.parse(requireEnv('DEPLOYMENT_CONFIG')) as DeploymentConfig };
    operations = { release: (e) => sagemakerRelease.release(e, deps, config), check: (e) => sagemakerRelease.check(e, deps, config), rollback: (e) => sagemakerRelease.rollback(e, deps, config) };
  } else {
    const contractsPrefix = process.env.CONTRACTS_PREFIX;
    const deps: lambdaRelease.ReleaseDeps = {
      ledger,
      models: new S3ModelArtifacts(new S3ObjectReader(s3)),
      ...(contractsPrefix !== undefined ? { artifacts: new ArtifactStore(s3, requireEnv('ARTIFACTS_BUCKET')) } : {}),
      lambda: new LambdaClient({}),
      codedeploy: new CodeDeployClient({}),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    const config: lambdaRelease.ReleaseConfig = {
      ...(contractsPrefix !== undefined ? { contractsPrefix } : {}),
      endpoint,
      functionName: requireEnv('FUNCTION_NAME'),
      alias: process.env.ALIAS_NAME ?? 'live',
      application: requireEnv('CODEDEPLOY_APPLICATION'),
      deploymentGroup: requireEnv('CODEDEPLOY_DEPLOYMENT_GROUP'),
      requireApproval,
    };
    const windowMs = Number(process.env.ROLLBACK_WINDOW_MINUTES ?? '60') * 60_000;
    operations = {
      release: (e) => lambdaRelease.release(e, deps, config),
      check: (e) => lambdaRelease.check(e, deps, config),
      rollback: (e) => lambdaRelease.rollback(e, deps, config),
      'alarm-rollback': (e) => lambdaRelease.rollbackOnAlarm(e, deps, { ...config, windowMs, now: () => new Date() }),
    };
  }
  return operations;
}

export const handler = middy(async (event: unknown): Promise<unknown> => {
  const ops = wire();
  const e = (event ?? {}) as Record<string, unknown>;
  const operation = typeof e.operation === 'string' && Object.hasOwn(ops, e.operation) ? ops[e.operation] : undefined;
  if (!operation) throw new InvalidEventError(`operation: expected one of ${Object.keys(ops).join(', ')} (got ${JSON.stringify(e.operation)})`);
  const result = (await operation(e)) as { done?: boolean; succeeded?: boolean };
  metrics.addMetric(`Operation_${String(e.operation)}`, MetricUnit.Count, 1);
  if (e.operation === 'check' && result.done) metrics.addMetric(result.succeeded ? 'ReleasesSucceeded' : 'ReleasesRolledBack', MetricUnit.Count, 1);
  if (e.operation === 'rollback' || (e.operation === 'alarm-rollback' && (result as { rolledBack?: boolean }).rolledBack)) metrics.addMetric('Rollbacks', MetricUnit.Count, 1);
  logger.info('endpoint deployer', { operation: e.operation, result });
  return result;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
