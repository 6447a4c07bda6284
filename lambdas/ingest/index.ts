import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { s3Client } from '../shared/clients';
import { LedgerStore } from '../shared/ledger-store';
import { S3ObjectReader } from '../shared/s3-objects';
import { parseObjectCreated } from './event';
import { ingestObject, type IngestOutcome } from './ingest';

/*
 * Ingest: S3 "Object Created" (EventBridge) -> DatasetVersion in the ledger.
 * Environment: LEDGER_TABLE, LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX, DATA_PREFIX,
 * POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();

let deps: Parameters<typeof ingestObject>[1] | undefined;
function dependencies(): Parameters<typeof ingestObject>[1] {
  return (deps ??= { objects: new S3ObjectReader(s3Client()), ledger: LedgerStore.fromEnvironment() });
}

export const handler = middy(async (event: unknown): Promise<IngestOutcome> => {
  const ref = parseObjectCreated(event);
  const outcome = await ingestObject(ref, dependencies(), { dataPrefix: process.env.DATA_PREFIX ?? 'data/' });
  if (outcome.duplicate) {
    metrics.addMetric('DuplicateEvents', MetricUnit.Count, 1);
  } else {
    metrics.addMetric(outcome.status === 'accepted' ? 'DatasetVersionsAccepted' : 'DatasetVersionsRejected', MetricUnit.Count, 1);
    metrics.addMetric('BytesIngested', MetricUnit.Bytes, outcome.size);
  }
  logger.info(outcome.status === 'accepted' ? 'dataset version recorded' : 'dataset version rejected', { outcome, key: ref.key, versionId: ref.versionId });
  return outcome;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
