import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { requireEnv } from '../shared/clients';
import { startForUpload, type StartOutcome, type Starter, type StarterSettings } from './start';

/*
 * PipelineStarter Lambda: S3 "Object Created" (EventBridge) -> StartExecution of
 * the training pipeline, named after the dataset version.
 * Environment: STATE_MACHINE_ARN, DATA_PREFIX, DATASETS (JSON list),
 * POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();
let wiring: { starter: Starter; settings: StarterSettings } | undefined;

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  const sfn = new SFNClient({});
  wiring = {
    starter: {
      async start(input) {
        try {
          await sfn.send(new StartExecutionCommand(input));
          return 'started';
        } catch (err) {
          if (err instanceof ExecutionAlreadyExists || (err as Error).name === 'ExecutionAlreadyExists') return 'exists';
          throw err;
        }
      },
    },
    settings: { stateMachineArn: requireEnv('STATE_MACHINE_ARN'), dataPrefix: requireEnv('DATA_PREFIX'), datasets: JSON.parse(process.env.DATASETS ?? '[]') as string[] },
  };
  return wiring;
}

export const handler = middy(async (event: unknown): Promise<StartOutcome> => {
  const { starter, settings } = wire();
  const outcome = await startForUpload(event, starter, settings);
  metrics.addMetric(outcome.started ? 'RetrainingStarted' : outcome.duplicate ? 'DuplicateUpload' : 'NotRetrained', MetricUnit.Count, 1);
  logger.info('retraining', { outcome });
  return outcome;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
