import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { InvalidEventError } from '../core/errors';
import { ArtifactStore } from '../shared/artifact-store';
import { s3Client } from '../shared/clients';
import { requireEnv, wholeNumberEnv } from '../shared/env';
import { LedgerStore } from '../shared/ledger-store';
import { S3ObjectReader } from '../shared/s3-objects';
import { mergeShards, planProfile, profileShard, type MergeEvent, type ShardEvent, type ShardingDeps, type ShardingSettings } from './shards';

/*
 * ProfileShards Lambda, three steps of one Distributed Map:
 *   { operation: 'plan', datasetVersionId }                    -> ProfilePlan
 *   { operation: 'profile', datasetVersionId, header, shard }  -> ShardOutcome
 *   { operation: 'merge', datasetVersionId, shards, results }  -> MergeOutcome
 * Environment: LEDGER_TABLE, LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX, ARTIFACTS_BUCKET,
 * PROFILES_PREFIX, SHARD_THRESHOLD_BYTES, SHARD_BYTES, MAX_SHARDS,
 * POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();
let wiring: { deps: ShardingDeps; settings: ShardingSettings } | undefined;

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  const s3 = s3Client();
  const int = (name: string): number => wholeNumberEnv(name, 0);
  wiring = {
    deps: { ledger: LedgerStore.fromEnvironment(), objects: new S3ObjectReader(s3), artifacts: new ArtifactStore(s3, requireEnv('ARTIFACTS_BUCKET')) },
    settings: { thresholdBytes: int('SHARD_THRESHOLD_BYTES'), shardBytes: int('SHARD_BYTES'), maxShards: int('MAX_SHARDS'), profilesPrefix: process.env.PROFILES_PREFIX ?? 'profiles/' },
  };
  return wiring;
}

export const handler = middy(async (event: unknown): Promise<unknown> => {
  const { deps, settings } = wire();
  const e = (event ?? {}) as { operation?: unknown; datasetVersionId?: unknown };
  switch (e.operation) {
    case 'plan': {
      const plan = await planProfile(e, deps, settings);
      // every operation publishes a count (an empty flush only warns "No application metrics to publish")
      metrics.addMetric(plan.sharded ? 'ProfilesSharded' : 'ProfilesNotSharded', MetricUnit.Count, 1);
      logger.info('profile plan', { datasetVersionId: plan.datasetVersionId, sharded: plan.sharded, shards: plan.shards.length, reason: plan.reason });
      return plan;
    }
    case 'profile': {
      const outcome = await profileShard(event as ShardEvent, deps, settings);
      metrics.addMetric('error' in outcome ? 'ShardUnreadable' : 'ShardProfiled', MetricUnit.Count, 1);
      return outcome;
    }
    case 'merge': {
      const outcome = await mergeShards(event as MergeEvent, deps, settings);
      metrics.addMetric(outcome.merged ? 'ShardsMerged' : 'ShardsRefused', MetricUnit.Count, 1);
      logger.info(outcome.merged ? 'shards merged' : 'shards refused', { outcome });
      return outcome;
    }
    default:
      throw new InvalidEventError(`operation: expected 'plan', 'profile' or 'merge' (got ${JSON.stringify(e.operation)})`);
  }
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
