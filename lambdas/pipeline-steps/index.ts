import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { InvalidEventError } from '../core/errors';
import { ArtifactStore } from '../shared/artifact-store';
import { s3Client } from '../shared/clients';
import { requireEnv } from '../shared/env';
import { LedgerStore } from '../shared/ledger-store';
import { S3ModelArtifacts } from '../shared/model-artifacts';
import { OnnxModel } from '../shared/onnx-model';
import { S3ObjectReader } from '../shared/s3-objects';
import { deploy, evaluate, prepare, recordApproval, recordCompilation, recordFailure, recordModel, registration, resolve, turn, type ExecutionLister, type PipelineConfig, type StepsDeps } from './steps';

/*
 * PipelineSteps Lambda: { operation: 'resolve' | 'turn' | 'prepare' | 'record-model' |
 * 'evaluate' | 'registration' | 'record-approval' | 'record-compilation' | 'deploy' |
 * 'record-failure', ... } from a TrainingPipeline state machine.
 * Environment: LEDGER_TABLE, LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX,
 * PIPELINE_CONFIG (JSON: PipelineConfig), POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();
let wiring: { deps: StepsDeps; config: PipelineConfig } | undefined;

/** ListExecutions (RUNNING), every page. */
function executionLister(sfn: SFNClient): ExecutionLister {
  return {
    async running(stateMachineArn) {
      const out: { name: string; startDate: Date }[] = [];
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 1000, nextToken }));
        for (const e of page.executions ?? []) if (e.name && e.startDate) out.push({ name: e.name, startDate: e.startDate });
        nextToken = page.nextToken;
      } while (nextToken);
      return out;
    },
  };
}

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  const s3 = s3Client();
  const config = JSON.parse(requireEnv('PIPELINE_CONFIG')) as PipelineConfig;
  wiring = {
    deps: { s3, ledger: LedgerStore.fromEnvironment(), objects: new S3ObjectReader(s3), artifacts: new ArtifactStore(s3, config.artifactsBucket), models: new S3ModelArtifacts(new S3ObjectReader(s3)), executions: executionLister(new SFNClient({})), loadModel: (bytes, signature) => OnnxModel.load(bytes, signature) },
    config,
  };
  return wiring;
}

const OPERATIONS = {
  resolve,
  turn,
  prepare,
  'record-model': recordModel,
  evaluate,
  registration,
  'record-approval': recordApproval,
  'record-compilation': recordCompilation,
  deploy,
  'record-failure': recordFailure,
} as const;

export const handler = middy(async (event: unknown): Promise<unknown> => {
  const { deps, config } = wire();
  const e = (event ?? {}) as Record<string, unknown>;
  const operation = OPERATIONS[e.operation as keyof typeof OPERATIONS] as ((event: Record<string, unknown>, deps: StepsDeps, config: PipelineConfig) => Promise<unknown>) | undefined;
  if (!operation) throw new InvalidEventError(`operation: expected one of ${Object.keys(OPERATIONS).join(', ')} (got ${JSON.stringify(e.operation)})`);
  const result = await operation(e, deps, config);
  metrics.addMetric(`Step_${String(e.operation)}`, MetricUnit.Count, 1);
  logger.info('pipeline step', { operation: e.operation, result });
  return result;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
