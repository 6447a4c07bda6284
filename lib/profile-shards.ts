import { Duration, Names, Size, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DataLake } from './data-lake';
import type { LineageLedger } from './lineage-ledger';
import { PROFILES_PREFIX } from './private/defaults';
import { serviceMetric } from './private/metrics';
import { unreservedConcurrency } from './private/nag';
import { SecureFunction } from './private/secure-function';

export interface ProfileShardsProps {
  /** Datasets are read from it; shard and merged profiles go to its artifacts bucket. */
  readonly dataLake: DataLake;
  /** DatasetVersions are read from it (nothing is appended). */
  readonly ledger: LineageLedger;
  /**
   * Versions up to this size are profiled in one pass by the validation gate.
   * @default Size.mebibytes(512)
   */
  readonly thresholdSize?: Size;
  /**
   * Bytes per shard (text files), or compressed bytes of row groups per shard (Parquet).
   * @default Size.mebibytes(128)
   */
  readonly shardSize?: Size;
  /**
   * At most this many shards: bigger files get bigger shards.
   * @default 1000
   */
  readonly maxShards?: number;
  /** Memory of the shard Lambda. @default Size.gibibytes(2) */
  readonly memorySize?: Size;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** @default 'cdk-mlops' */
  readonly metricsNamespace?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The Lambda behind the sharded profiling of big dataset versions (used by the
 * `ValidateDataset` Step Functions fragment): it plans shards (byte ranges cut
 * at row boundaries, or Parquet row groups), profiles one shard, and merges the
 * shard profiles into the version's profile, stored where the validation gate
 * reads it. It reads the data lake and the ledger and writes only under `profiles/`.
 */
export class ProfileShards extends Construct {
  readonly function: lambda.IFunction;
  readonly role: iam.IRole;
  readonly thresholdSize: Size;
  readonly shardSize: Size;
  readonly maxShards: number;
  readonly metricsNamespace: string;
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: ProfileShardsProps) {
    super(scope, id);
    this.thresholdSize = props.thresholdSize ?? Size.mebibytes(512);
    this.shardSize = props.shardSize ?? Size.mebibytes(128);
    this.maxShards = props.maxShards ?? 1000;
    const shardBytes = this.shardSize.toBytes();
    const thresholdBytes = this.thresholdSize.toBytes();
    if (!Token.isUnresolved(shardBytes) && (!Number.isInteger(shardBytes) || shardBytes < 1024)) throw new Error(`ProfileShards: 'shardSize' must be at least 1 KiB (got ${shardBytes} bytes).`);
    if (!Token.isUnresolved(thresholdBytes) && thresholdBytes < 0) throw new Error(`ProfileShards: 'thresholdSize' must be >= 0 (got ${thresholdBytes} bytes).`);
    // A Distributed Map's result (one small object per shard) must stay well under the 256 KiB state limit.
    if (!Number.isInteger(this.maxShards) || this.maxShards < 2 || this.maxShards > 1000) throw new Error(`ProfileShards: 'maxShards' must be a whole number from 2 to 1000 (got ${this.maxShards}).`);
    this.metricsNamespace = props.metricsNamespace ?? 'cdk-mlops';
    this.serviceName = Names.uniqueResourceName(this, { maxLength: 64 });
    const fn = new SecureFunction(this, 'Function', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'profile-shards',
      description: 'cdk-mlops: plans, profiles and merges the shards of a big dataset version',
      memorySize: props.memorySize ?? Size.gibibytes(2),
      timeout: props.timeout ?? Duration.minutes(15),
      logRetention: props.logRetention,
      // Parquet row groups are decoded in a worker thread, which loads hyparquet from a file of its own
      separateModules: ['hyparquet'],
      synchronousCaller: "the Lambda tasks (plan, profile in a Distributed Map, merge) of the workflows that profile big dataset versions",
      unreservedConcurrency: unreservedConcurrency("Invoked by its workflows' tasks; the Distributed Map profiles at most its maxConcurrency shards (default 100) at once per execution"),
      environment: {
        ARTIFACTS_BUCKET: props.dataLake.artifactsBucket.bucketName,
        PROFILES_PREFIX,
        SHARD_THRESHOLD_BYTES: String(thresholdBytes),
        SHARD_BYTES: String(shardBytes),
        MAX_SHARDS: String(this.maxShards),
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
      },
    });
    props.dataLake.grantReadData(fn.role);
    props.dataLake.grantReadArtifacts(fn.role, `${PROFILES_PREFIX}*`);
    props.dataLake.grantWriteArtifacts(fn.role, `${PROFILES_PREFIX}*`);
    props.ledger.grantRead(fn.role);
    props.ledger.bindEnvironment(fn.function);
    this.function = fn.function;
    this.role = fn.role;
  }

  /** Shards profiled. Statistic: Sum; period: 5 minutes. */
  metricShardsProfiled(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return serviceMetric(this.metricsNamespace, this.serviceName, 'ShardProfiled', props);
  }

  /** Shard sets refused at merge (a quoted newline across a boundary, an unreadable shard): the version was profiled in one pass instead. Statistic: Sum; period: 5 minutes. */
  metricShardsRefused(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return serviceMetric(this.metricsNamespace, this.serviceName, 'ShardsRefused', props);
  }
}
