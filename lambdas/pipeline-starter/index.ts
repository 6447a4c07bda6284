import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { ExecutionAlreadyExists, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { requireEnv } from '../shared/env';
import { LedgerStore } from '../shared/ledger-store';
import { parseDriftTrigger, parseImagePush, startForDrift, startForImagePush, startForUpload, startForWaitingDrift, type DriftOutcome, type DriftStarterDeps, type StartOutcome, type Starter, type StarterSettings } from './start';

/*
 * PipelineStarter Lambda, the training pipeline's automatic triggers:
 * - { trigger: 'drift', endpoint, alarmName, time, reason } (the DriftMonitor's
 *   alarm, through EventBridge) -> a drift Incident, and a retraining on the
 *   newest data unless one runs already;
 * - S3 "Object Created" (EventBridge) -> a retraining on that version, named
 *   after it: when a drift of DRIFT_ENDPOINTS waits for data of that dataset
 *   (with the drift as its trigger), else when RETRAIN_ON_UPLOAD and the
 *   dataset is one of DATASETS (empty: any).
 * - ECR "ECR Image Action" (a push of the pipeline's training image tag) -> a
 *   retraining with the new image on the newest data the pipeline trains on.
 * Environment: STATE_MACHINE_ARN, PIPELINE_NAME, DATA_PREFIX, RETRAIN_ON_UPLOAD,
 * DATASETS (JSON list), DRIFT_ENDPOINTS (JSON list), LEDGER_* (for drift and image pushes),
 * POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();
let wiring: { starter: Starter; sfn: SFNClient; settings: StarterSettings & { pipeline: string; retrainOnUpload: boolean; driftEndpoints: string[] } } | undefined;
let ledger: LedgerStore | undefined;

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  const sfn = new SFNClient({});
  wiring = {
    sfn,
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
    settings: {
      stateMachineArn: requireEnv('STATE_MACHINE_ARN'),
      pipeline: process.env.PIPELINE_NAME ?? '',
      dataPrefix: requireEnv('DATA_PREFIX'),
      retrainOnUpload: process.env.RETRAIN_ON_UPLOAD !== 'false',
      datasets: JSON.parse(process.env.DATASETS ?? '[]') as string[],
      driftEndpoints: JSON.parse(process.env.DRIFT_ENDPOINTS ?? '[]') as string[],
    },
  };
  return wiring;
}

function ledgerDeps(w: NonNullable<typeof wiring>): DriftStarterDeps {
  ledger ??= LedgerStore.fromEnvironment();
  return {
    ledger,
    starter: w.starter,
    async running(stateMachineArn) {
      const names: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await w.sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 100, nextToken }));
        for (const e of page.executions ?? []) if (e.name) names.push(e.name);
        nextToken = page.nextToken;
      } while (nextToken);
      return names;
    },
  };
}

export const handler = middy(async (event: unknown): Promise<StartOutcome | DriftOutcome> => {
  const w = wire();
  if ((event as { trigger?: unknown } | null)?.trigger === 'drift') {
    const outcome = await startForDrift(parseDriftTrigger(event), ledgerDeps(w), w.settings);
    metrics.addMetric(outcome.start === 'started' ? 'RetrainingStarted' : 'DriftNotRetrained', MetricUnit.Count, 1);
    logger.info('drift', { outcome });
    return outcome;
  }
  if ((event as { source?: unknown } | null)?.source === 'aws.ecr') {
    const push = parseImagePush(event);
    const outcome: StartOutcome = 'ignored' in push ? { started: false, duplicate: false, reason: push.ignored } : await startForImagePush(push, ledgerDeps(w), w.settings);
    metrics.addMetric(outcome.started ? 'RetrainingStarted' : outcome.duplicate ? 'DuplicateImagePush' : 'NotRetrained', MetricUnit.Count, 1);
    logger.info('image push', { outcome });
    return outcome;
  }
  let outcome: StartOutcome = { started: false, duplicate: false, reason: 'uploads do not retrain this pipeline' };
  if (w.settings.driftEndpoints.length > 0) outcome = await startForWaitingDrift(event, ledgerDeps(w), { ...w.settings, endpoints: w.settings.driftEndpoints });
  if (!outcome.started && !outcome.duplicate && w.settings.retrainOnUpload) outcome = await startForUpload(event, w.starter, w.settings);
  metrics.addMetric(outcome.started ? 'RetrainingStarted' : outcome.duplicate ? 'DuplicateUpload' : 'NotRetrained', MetricUnit.Count, 1);
  logger.info('retraining', { outcome });
  return outcome;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
