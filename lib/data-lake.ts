import { Annotations, Aws, Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cxapi from 'aws-cdk-lib/cx-api';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeControl, acknowledgeObjectPrefixGrant } from './private/nag';
import {
  DEFAULT_ACCESS_LOG_RETENTION,
  DEFAULT_DATA_PREFIX,
  DEFAULT_LEDGER_RETENTION,
  DEFAULT_NONCURRENT_VERSION_EXPIRATION,
  DEFAULT_OBJECT_LOCK_RETENTION,
  SECURE_BUCKET_DEFAULTS,
} from './private/defaults';

export interface DataLakeProps {
  /**
   * Customer-managed KMS key for the data and artifacts buckets. When you bring
   * a `dataBucket` imported by name, pass its key here too: grants on the data
   * bucket name this key.
   * @default - a new key with annual rotation, retained on stack deletion
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Bring your own data bucket. Its Object Lock, versioning and EventBridge
   * settings are yours to keep; the kit cannot verify them and says so at synth.
   * @default - a bucket with versioning, Object Lock, KMS and EventBridge is created
   */
  readonly dataBucket?: s3.IBucket;

  /**
   * Object Lock default retention of the buckets the construct creates
   * (GOVERNANCE can be bypassed with `s3:BypassGovernanceRetention`; COMPLIANCE
   * cannot be shortened by anyone, root included).
   * @default - GOVERNANCE mode, 30 days
   */
  readonly objectLockRetention?: s3.ObjectLockRetention;

  /**
   * How long noncurrent object versions are kept in the data and artifacts buckets
   * (Object Lock still protects versions inside their retention period). The ledger
   * bucket has no expiry at all.
   * @default Duration.days(365)
   */
  readonly noncurrentVersionExpiration?: Duration;

  /**
   * Object Lock default retention of the ledger bucket, which holds the lineage
   * ledger's WORM copies. Nothing in that bucket expires, and LineageLedger's bucket
   * policy denies shortening or bypassing the retention to everyone below its
   * break-glass role. COMPLIANCE cannot be shortened by anyone, root included, for
   * as long as it runs: choose it for production records you must keep.
   * @default - GOVERNANCE mode, 3650 days (10 years)
   */
  readonly ledgerRetention?: s3.ObjectLockRetention;

  /**
   * Bucket that receives S3 server access logs.
   * @default - a dedicated SSE-S3 bucket (log delivery cannot write to SSE-KMS buckets)
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * How long access logs are kept, when the construct creates the log bucket.
   * @default Duration.days(365)
   */
  readonly accessLogsRetention?: Duration;

  /**
   * Key prefix data scientists upload datasets under: `<dataPrefix><dataset>/<file>`.
   * @default 'data/'
   */
  readonly dataPrefix?: string;

  /**
   * What happens to the buckets and key when they leave the stack. Object-Locked
   * objects outlive any policy.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The governed data lake: a data bucket that datasets are uploaded to, an
 * artifacts bucket for models and reports, and a ledger bucket for the lineage
 * ledger's WORM copies. All three are versioned, Object-Locked, KMS-encrypted with
 * a rotating customer-managed key, private, TLS-only, access-logged and retained;
 * the data bucket sends EventBridge notifications so uploads start ingestion.
 */
/** What CloudWatch Logs needs of a key to encrypt log groups (its documented key policy, actions spelled out). */
export const LOGS_KEY_POLICY_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:DescribeKey'] as const;

export class DataLake extends Construct {
  /** The KMS key that encrypts both buckets. */
  readonly encryptionKey: kms.IKey;
  /** Where datasets are uploaded. */
  readonly dataBucket: s3.IBucket;
  /** Models, reports, captures and released contracts. */
  readonly artifactsBucket: s3.Bucket;
  /**
   * The lineage ledger's WORM copies, and nothing else: Object-Locked with a long
   * retention, versioned, KMS, access-logged, and no lifecycle rule that expires
   * anything (a replaced or deleted copy's versions stay as evidence).
   */
  readonly ledgerBucket: s3.Bucket;
  /** Server access logs of both buckets. */
  readonly accessLogsBucket: s3.IBucket;
  /** Key prefix of uploaded datasets (ends with `/`). */
  readonly dataPrefix: string;
  /** Object Lock default retention applied to the buckets created here. */
  readonly objectLockRetention: s3.ObjectLockRetention;

  constructor(scope: Construct, id: string, props: DataLakeProps = {}) {
    super(scope, id);
    validateProps(props);
    // Log delivery through a bucket policy, not the legacy LogDeliveryWrite ACL (which
    // cannot be combined with BucketOwnerEnforced), whatever the user's cdk.json says.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.dataPrefix = props.dataPrefix ?? DEFAULT_DATA_PREFIX;
    this.objectLockRetention = props.objectLockRetention ?? DEFAULT_OBJECT_LOCK_RETENTION;

    this.encryptionKey = props.encryptionKey ?? this.createKey(removalPolicy);
    if (props.encryptionKey) {
      Annotations.of(this).addWarningV2(
        'cdk-mlops:DataLake.byoKeyLogs',
        `encryptionKey is brought by you: the kit's log groups are encrypted with it, so its key policy must let the CloudWatch Logs service principal (logs.<region>.amazonaws.com) use it for log groups of this account (see LOGS_KEY_POLICY_ACTIONS in lib/data-lake.ts).`,
      );
    }

    this.accessLogsBucket = props.accessLogsBucket ?? this.createAccessLogsBucket(props.accessLogsRetention ?? DEFAULT_ACCESS_LOG_RETENTION, removalPolicy);

    const lockedBucketProps = (logPrefix: string): s3.BucketProps => ({
      ...SECURE_BUCKET_DEFAULTS,
      removalPolicy,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: this.objectLockRetention,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: logPrefix,
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? DEFAULT_NONCURRENT_VERSION_EXPIRATION,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    if (props.dataBucket) {
      this.dataBucket = props.dataBucket;
      Annotations.of(this).addWarningV2(
        'cdk-mlops:DataLake.byoDataBucket',
        'dataBucket is brought by you: make sure it has versioning, Object Lock, KMS, TLS-only access and EventBridge notifications on; the kit cannot check an existing bucket.',
      );
    } else {
      const dataBucket = new s3.Bucket(this, 'DataBucket', lockedBucketProps('data-bucket/'));
      // EventBridge notifications set on the bucket itself, not through CDK's
      // notifications custom resource (one Lambda and a managed policy fewer).
      (dataBucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
      this.dataBucket = dataBucket;
    }
    this.artifactsBucket = new s3.Bucket(this, 'ArtifactsBucket', lockedBucketProps('artifacts-bucket/'));
    this.ledgerBucket = new s3.Bucket(this, 'LedgerBucket', {
      ...lockedBucketProps('ledger-bucket/'),
      objectLockDefaultRetention: props.ledgerRetention ?? DEFAULT_LEDGER_RETENTION,
      // no expiry of any version: a ledger copy is written once and kept; a second version is evidence
      lifecycleRules: [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    for (const bucket of [props.dataBucket ? undefined : this.dataBucket, this.artifactsBucket, this.ledgerBucket, props.accessLogsBucket ? undefined : this.accessLogsBucket]) {
      if (bucket) acknowledgeControl(bucket, 'S3BucketReplicationEnabled', REPLICATION_REASON);
    }
  }

  /**
   * The lake's key, and CloudWatch Logs allowed to use it for this account's log groups: the kit's
   * functions and state machines log what they read (the state machines every input and output).
   */
  private createKey(removalPolicy: RemovalPolicy): kms.Key {
    const key = new kms.Key(this, 'Key', { description: `cdk-mlops data lake key (${this.node.path})`, enableKeyRotation: true, removalPolicy });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsEncryptsLogGroupsOfThisAccount',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: [...LOGS_KEY_POLICY_ACTIONS],
        // '*' in a key policy means this key
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` } },
      }),
    );
    return key;
  }

  /** Read objects (and their versions) under `keyPattern` in the data bucket, and decrypt them. */
  grantReadData(grantee: iam.IGrantable, keyPattern = `${this.dataPrefix}*`): iam.Grant {
    return this.grant(grantee, this.dataBucket, keyPattern, ['s3:GetObject', 's3:GetObjectVersion'], ['kms:Decrypt']);
  }

  /** Upload objects under `keyPattern` in the data bucket (no delete, no overwrite of locked versions). */
  grantUploadData(grantee: iam.IGrantable, keyPattern = `${this.dataPrefix}*`): iam.Grant {
    return this.grant(grantee, this.dataBucket, keyPattern, ['s3:PutObject'], ['kms:GenerateDataKey', 'kms:Decrypt']);
  }

  /** Read artifacts under `keyPattern`. */
  grantReadArtifacts(grantee: iam.IGrantable, keyPattern = '*'): iam.Grant {
    return this.grant(grantee, this.artifactsBucket, keyPattern, ['s3:GetObject', 's3:GetObjectVersion'], ['kms:Decrypt']);
  }

  /** List the artifacts bucket's keys under `prefix` (ListBucket, conditioned on the prefix). */
  grantListArtifacts(grantee: iam.IGrantable, prefix: string): iam.Grant {
    return iam.Grant.addToPrincipalOrResource({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.artifactsBucket.bucketArn],
      resource: this.artifactsBucket,
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    });
  }

  /** Write artifacts under `keyPattern` (PutObject only). */
  grantWriteArtifacts(grantee: iam.IGrantable, keyPattern = '*'): iam.Grant {
    return this.grant(grantee, this.artifactsBucket, keyPattern, ['s3:PutObject'], ['kms:GenerateDataKey', 'kms:Decrypt']);
  }

  /**
   * Total bytes stored in a bucket (AWS/S3 BucketSizeBytes, Standard storage).
   * Statistic: Average; period: 1 day (S3 reports storage metrics daily).
   */
  metricBucketSizeBytes(bucket: 'data' | 'artifacts' = 'data', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.storageMetric('BucketSizeBytes', bucket, { StorageType: 'StandardStorage' }, props);
  }

  /** Objects stored in a bucket (AWS/S3 NumberOfObjects). Statistic: Average; period: 1 day. */
  metricNumberOfObjects(bucket: 'data' | 'artifacts' = 'data', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.storageMetric('NumberOfObjects', bucket, { StorageType: 'AllStorageTypes' }, props);
  }

  private storageMetric(metricName: string, bucket: 'data' | 'artifacts', dims: Record<string, string>, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const target = bucket === 'data' ? this.dataBucket : this.artifactsBucket;
    return new cloudwatch.Metric({
      namespace: 'AWS/S3',
      metricName,
      dimensionsMap: { BucketName: target.bucketName, ...dims },
      statistic: cloudwatch.Stats.AVERAGE,
      period: Duration.days(1),
      ...props,
    });
  }

  /** Every grant goes through here, so object access always comes with its KMS permission. */
  private grant(grantee: iam.IGrantable, bucket: s3.IBucket, keyPattern: string, s3Actions: string[], kmsActions: string[]): iam.Grant {
    const result = iam.Grant.addToPrincipalOrResource({
      grantee,
      actions: s3Actions,
      resourceArns: [bucket.arnForObjects(keyPattern)],
      resource: bucket,
    });
    acknowledgeObjectPrefixGrant(grantee, bucket, keyPattern, `Objects under '${keyPattern}' are created at run time (uploads, models, reports), so the grant is scoped to that key pattern of this one bucket.`);
    (bucket.encryptionKey ?? this.encryptionKey).grant(grantee, ...kmsActions);
    return result;
  }

  private createAccessLogsBucket(retention: Duration, removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'AccessLogsBucket', {
      ...SECURE_BUCKET_DEFAULTS,
      removalPolicy,
      // S3 log delivery supports SSE-S3 only on the target bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: retention, noncurrentVersionExpiration: Duration.days(1) }],
    });
    acknowledgeControl(bucket, 'S3DefaultEncryptionKMS', "S3 delivers server access logs only to a target bucket encrypted with SSE-S3 (AWS's server access logging documentation), so this bucket uses S3-managed keys; it holds request logs, no data.");
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server-access-log bucket itself; logging it into itself would loop, and into another bucket would only move the finding.',
    });
    return bucket;
  }
}

const REPLICATION_REASON =
  "Cross-Region replication needs a destination bucket in another Region or account (with its own Object Lock and key), which this single-Region construct cannot create; versioning and Object Lock keep every version here. Add replication to your own bucket in the other Region (S3 replicates Object-Locked buckets and their retention).";

function validateProps(props: DataLakeProps): void {
  if (props.dataBucket && props.objectLockRetention) {
    throw new Error("DataLake: 'objectLockRetention' applies to the buckets DataLake creates; with 'dataBucket' brought by you it would be silently ignored for your data. Configure Object Lock on your bucket and drop 'objectLockRetention', or let DataLake create the data bucket.");
  }
  const prefix = props.dataPrefix;
  if (prefix !== undefined && !Token.isUnresolved(prefix) && !/^([A-Za-z0-9!_.*'()-]+\/)+$/.test(prefix)) {
    throw new Error(`DataLake: 'dataPrefix' must be one or more path segments ending in '/', e.g. 'data/' (got '${prefix}').`);
  }
  const nve = props.noncurrentVersionExpiration;
  if (nve && !nve.isUnresolved() && nve.toDays({ integral: false }) < 1) {
    throw new Error(`DataLake: 'noncurrentVersionExpiration' must be at least 1 day (got ${nve.toHumanString()}).`);
  }
  const alr = props.accessLogsRetention;
  if (props.accessLogsBucket && alr) {
    throw new Error("DataLake: 'accessLogsRetention' applies only to the log bucket DataLake creates; set the lifecycle on your 'accessLogsBucket' instead.");
  }
  if (alr && !alr.isUnresolved() && alr.toDays({ integral: false }) < 1) {
    throw new Error(`DataLake: 'accessLogsRetention' must be at least 1 day (got ${alr.toHumanString()}).`);
  }
}

