import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { LEDGER_ENV, LEDGER_INDEX_BY_CHAIN, LEDGER_INDEX_LOOKUP } from '../lambdas/shared/ledger-schema';
import { DEFAULT_LEDGER_PREFIX } from './private/defaults';
import { acknowledgeControl, acknowledgeObjectPrefixGrant } from './private/nag';

/** Item-level write actions the ledger denies to every principal. */
export const LEDGER_DENIED_ACTIONS = [
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
];

/**
 * Object actions on the WORM copies that only the break-glass role keeps: deleting a copy or a
 * version of it, and shortening, bypassing or lifting its Object Lock.
 */
export const WORM_GUARDED_ACTIONS = ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:BypassGovernanceRetention', 's3:PutObjectLegalHold'];

export interface LineageLedgerProps {
  /**
   * Object-Locked bucket that receives a WORM copy of every record and link: the
   * authority `verify` checks the table against. The ledger adds a bucket policy
   * to it that makes every copy write-once for every principal (PutObject must
   * carry `If-None-Match: *`; `If-Match` is refused), and denies deleting copies or
   * shortening, bypassing or lifting their Object Lock to all but `breakGlassRole`.
   * It must have Object Lock on (DataLake's `ledgerBucket` has, with no expiry).
   */
  readonly wormBucket: s3.IBucket;

  /**
   * The one role that may still delete WORM copies, or shorten, bypass or lift their
   * Object Lock (an erasure the law requires, say). Nobody else may, the kit's roles
   * and administrators included; what an account's root user can still do is in the
   * README's security section.
   * @default - no principal is exempt
   */
  readonly breakGlassRole?: iam.IRole;

  /**
   * Take a `wormBucket` that this stack does not manage (imported): the ledger cannot
   * attach its policy nor see Object Lock on it, so it refuses one unless you say here
   * that you attached `LineageLedger.wormBucketPolicyStatements(...)` yourself and the
   * bucket has Object Lock with a retention you keep.
   * @default false
   */
  readonly wormBucketPolicyAttachedElsewhere?: boolean;

  /**
   * Key prefix of the WORM copies.
   * @default 'ledger/'
   */
  readonly wormPrefix?: string;

  /**
   * KMS key of the table.
   * @default - a new customer-managed key with annual rotation
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Deny item updates and deletes to every principal, administrators included,
   * with a resource policy on the table. Turning it off leaves append-only to
   * IAM alone.
   * @default true
   */
  readonly denyMutations?: boolean;

  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The append-only, tamper-evident lineage ledger: a DynamoDB table (on demand,
 * point-in-time recovery, deletion protection, KMS, item updates and deletes
 * denied to every principal) indexed for queries, plus WORM copies of every record
 * and link in an Object-Locked bucket whose policy makes them write-once and kept.
 * The WORM copies are the authority: a role that may PutItem can overwrite a table
 * item (DynamoDB has no IAM condition on a put's condition expression), and
 * `verify` catches that by comparing the table with the first version of each copy.
 * The library that reads and writes it is `LedgerStore` (lambdas/shared/ledger-store.ts).
 */
export class LineageLedger extends Construct {
  readonly table: dynamodb.Table;
  readonly encryptionKey: kms.IKey;
  readonly wormBucket: s3.IBucket;
  readonly wormPrefix: string;
  /** The role exempt from the WORM copies' delete and retention denials, if any. */
  readonly breakGlassRole?: iam.IRole;

  /**
   * The WORM bucket policy's statements for copies under `prefix` of the bucket
   * `bucketArn`: write-once for every principal; no delete and no retention change
   * for anyone but the break-glass role. Attach them yourself to a bucket this
   * stack does not manage.
   */
  static wormBucketPolicyStatements(bucketArn: string, prefix: string, breakGlassRoleArn?: string): iam.PolicyStatement[] {
    const copies = `${bucketArn}/${prefix}*`;
    const everyone = [new iam.AnyPrincipal()];
    return [
      new iam.PolicyStatement({
        sid: 'LedgerCopiesAreWrittenOnce',
        effect: iam.Effect.DENY,
        principals: everyone,
        actions: ['s3:PutObject'],
        resources: [copies],
        // without If-None-Match: * a PutObject (or a CopyObject, or a multipart upload) could replace a copy
        conditions: { Null: { 's3:if-none-match': 'true' } },
      }),
      new iam.PolicyStatement({
        sid: 'LedgerCopiesAreNeverReplaced',
        effect: iam.Effect.DENY,
        principals: everyone,
        actions: ['s3:PutObject'],
        resources: [copies],
        conditions: { Null: { 's3:if-match': 'false' } },
      }),
      new iam.PolicyStatement({
        sid: 'LedgerCopiesAreKept',
        effect: iam.Effect.DENY,
        principals: everyone,
        actions: WORM_GUARDED_ACTIONS,
        resources: [copies],
        ...(breakGlassRoleArn ? { conditions: { ArnNotEquals: { 'aws:PrincipalArn': breakGlassRoleArn } } } : {}),
      }),
    ];
  }

  constructor(scope: Construct, id: string, props: LineageLedgerProps) {
    super(scope, id);
    const prefix = props.wormPrefix ?? DEFAULT_LEDGER_PREFIX;
    if (!Token.isUnresolved(prefix) && !/^([A-Za-z0-9!_.*'()-]+\/)+$/.test(prefix)) {
      throw new Error(`LineageLedger: 'wormPrefix' must be one or more path segments ending in '/', e.g. 'ledger/' (got '${prefix}').`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.wormBucket = props.wormBucket;
    this.wormPrefix = prefix;
    if (props.breakGlassRole) this.breakGlassRole = props.breakGlassRole;
    this.protectWormCopies(props);
    this.encryptionKey =
      props.encryptionKey ?? new kms.Key(this, 'Key', { description: `cdk-mlops lineage ledger key (${this.node.path})`, enableKeyRotation: true, removalPolicy });

    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy,
    });
    acknowledgeControl(this.table, 'DynamoDBInBackupPlan', "Point-in-time recovery (35 days) and deletion protection are on, and every record and link has a copy in the Object-Locked ledger bucket, the authority verify checks the table against; an AWS Backup plan (vault, role, schedule) is left to the account's central backup policy.");
    this.table.addGlobalSecondaryIndex({
      indexName: LEDGER_INDEX_LOOKUP,
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: LEDGER_INDEX_BY_CHAIN,
      partitionKey: { name: 'gsi2pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi2sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['id'],
    });
    if (props.denyMutations ?? true) {
      this.table.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'LedgerIsAppendOnly',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: LEDGER_DENIED_ACTIONS,
          // '*' in a table's own resource policy means this table; naming its ARN would be circular.
          resources: ['*'],
        }),
      );
    }
  }

  /**
   * Append records: PutItem (the library always conditions it on
   * `attribute_not_exists`), the reads an append needs, and PutObject of WORM
   * copies. No UpdateItem, DeleteItem or BatchWriteItem, ever.
   */
  grantAppend(grantee: iam.IGrantable): iam.Grant {
    const grant = this.grantTable(grantee, ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'], ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey']);
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:PutObject'], resourceArns: [this.wormBucket.arnForObjects(`${this.wormPrefix}*`)] });
    this.acknowledgeWormPrefix(grantee);
    this.wormBucket.encryptionKey?.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    return grant;
  }

  /** Read records and verify chains (reading every version of the WORM copies, and listing them). */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const grant = this.grantTable(grantee, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'], ['kms:Decrypt']);
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject', 's3:GetObjectVersion'], resourceArns: [this.wormBucket.arnForObjects(`${this.wormPrefix}*`)] });
    this.acknowledgeWormPrefix(grantee);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket', 's3:ListBucketVersions'],
      resourceArns: [this.wormBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${this.wormPrefix}*`] } },
    });
    this.wormBucket.encryptionKey?.grant(grantee, 'kms:Decrypt');
    return grant;
  }

  /** Sets the environment `LedgerStore.fromEnvironment()` reads. */
  bindEnvironment(fn: lambda.Function): void {
    fn.addEnvironment(LEDGER_ENV.table, this.table.tableName);
    fn.addEnvironment(LEDGER_ENV.wormBucket, this.wormBucket.bucketName);
    fn.addEnvironment(LEDGER_ENV.wormPrefix, this.wormPrefix);
  }

  /**
   * Lost races for a chain head (ConditionalCheckFailedRequests): a rising count
   * means writers contend for the same chain. Statistic: Sum; period: 5 minutes.
   */
  metricConditionalCheckFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.table.metricConditionalCheckFailedRequests({ period: Duration.minutes(5), ...props });
  }

  /** Throttled requests to the ledger table. Statistic: Sum; period: 5 minutes. */
  metricThrottledRequests(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.table.metricThrottledRequestsForOperations({ operations: [dynamodb.Operation.PUT_ITEM, dynamodb.Operation.QUERY, dynamodb.Operation.GET_ITEM], period: Duration.minutes(5), ...props });
  }

  /** The WORM bucket's policy (write-once, kept), after checking the bucket can hold WORM copies at all. */
  private protectWormCopies(props: LineageLedgerProps): void {
    const bucket = props.wormBucket;
    const cfn = bucket.node.defaultChild;
    if (!(cfn instanceof s3.CfnBucket)) {
      if (!props.wormBucketPolicyAttachedElsewhere) {
        throw new Error("LineageLedger: 'wormBucket' is not managed by this stack, so the ledger can neither attach its write-once policy nor see Object Lock on it. Use a bucket of this stack (DataLake's ledgerBucket), or attach LineageLedger.wormBucketPolicyStatements(...) yourself and set 'wormBucketPolicyAttachedElsewhere: true'.");
      }
      return;
    }
    if (props.wormBucketPolicyAttachedElsewhere) {
      throw new Error("LineageLedger: 'wormBucketPolicyAttachedElsewhere' is for an imported 'wormBucket'; this one is managed by the stack and gets the policy from the ledger. Drop the prop.");
    }
    const lock = cfn.objectLockEnabled;
    if (!Token.isUnresolved(lock) && lock !== true) {
      throw new Error("LineageLedger: 'wormBucket' has no Object Lock, so its copies are not WORM: create it with 'objectLockEnabled: true' and a default retention (DataLake's ledgerBucket has both).");
    }
    for (const statement of LineageLedger.wormBucketPolicyStatements(bucket.bucketArn, this.wormPrefix, props.breakGlassRole?.roleArn)) bucket.addToResourcePolicy(statement);
  }

  private acknowledgeWormPrefix(grantee: iam.IGrantable): void {
    acknowledgeObjectPrefixGrant(grantee, this.wormBucket, `${this.wormPrefix}*`, `Ledger WORM copies are named by record id and chain position at run time; the grant is scoped to the '${this.wormPrefix}' prefix of the ledger bucket.`);
  }

  /** Every grant on the table goes through here, with the table's key. */
  private grantTable(grantee: iam.IGrantable, actions: string[], kmsActions: string[]): iam.Grant {
    const indexArns = [LEDGER_INDEX_LOOKUP, LEDGER_INDEX_BY_CHAIN].map((index) => `${this.table.tableArn}/index/${index}`);
    const grant = iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.table.tableArn, ...indexArns] });
    this.encryptionKey.grant(grantee, ...kmsActions);
    return grant;
  }
}
