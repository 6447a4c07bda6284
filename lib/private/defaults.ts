import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';

/** Secure defaults, kept in one place so every construct applies the same ones. */

/** Every bucket the kit creates: private, TLS 1.2+ only, owner-enforced, versioned, retained. */
export const SECURE_BUCKET_DEFAULTS = {
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  versioned: true,
  removalPolicy: RemovalPolicy.RETAIN,
} as const satisfies s3.BucketProps;

/** @default governance mode, 30 days */
export const DEFAULT_OBJECT_LOCK_RETENTION = s3.ObjectLockRetention.governance(Duration.days(30));
/** The ledger bucket's: governance mode, 10 years (LineageLedger denies shortening it below its break-glass role). */
export const DEFAULT_LEDGER_RETENTION = s3.ObjectLockRetention.governance(Duration.days(3650));
export const DEFAULT_NONCURRENT_VERSION_EXPIRATION = Duration.days(365);
export const DEFAULT_ACCESS_LOG_RETENTION = Duration.days(365);
export const DEFAULT_DATA_PREFIX = 'data/';
export const DEFAULT_LEDGER_PREFIX = 'ledger/';
/** Where dataset profiles live in the artifacts bucket (`<prefix><dataset>/<version>.json`, shards under `<prefix>shards/`). */
export const PROFILES_PREFIX = 'profiles/';
/** Where registered models live in the artifacts bucket. */
export const DEFAULT_MODELS_PREFIX = 'models/';

/** Lambda: newest Node.js runtime (cdk-nag L1), Graviton, X-Ray. */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;
export const LAMBDA_ARCHITECTURE = lambda.Architecture.ARM_64;
export const DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_YEAR;
