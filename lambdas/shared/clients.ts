import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { endpointOverride } from './env';

/*
 * SDK clients for Lambda code, the CLI and the local runner. In AWS they use the
 * default chain. Locally the standard service-specific endpoint variables
 * (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB) point them at the emulators;
 * S3 then needs path-style addressing, since `bucket.127.0.0.1` does not resolve.
 * Given an environment other than the process's, region and credentials come
 * from it too.
 */

interface BaseConfig {
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

function baseConfig(env: NodeJS.ProcessEnv): BaseConfig {
  if (env === process.env) return {};
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  return {
    ...(region ? { region } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {}),
  };
}

export function s3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = endpointOverride('s3', env);
  // Against an emulator only: send checksums only where an operation requires
  // them. By default the SDK uploads streams with aws-chunked encoding (for its
  // CRC32 trailer), and s3rver stores that framing as if it were the object.
  // In AWS the default stays: Object-Locked buckets require a checksum on PutObject, and an
  // emulator that implements Object Lock (moto's server) says so with
  // AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_SUPPORTED in its environment.
  const checksums = env.AWS_REQUEST_CHECKSUM_CALCULATION?.toUpperCase() === 'WHEN_SUPPORTED' ? ('WHEN_SUPPORTED' as const) : ('WHEN_REQUIRED' as const);
  const local = endpoint ? { endpoint, forcePathStyle: true, requestChecksumCalculation: checksums } : {};
  return new S3Client({ ...baseConfig(env), ...local });
}

export function dynamoDocumentClient(env: NodeJS.ProcessEnv = process.env): DynamoDBDocumentClient {
  const endpoint = endpointOverride('dynamodb', env);
  return DynamoDBDocumentClient.from(new DynamoDBClient({ ...baseConfig(env), ...(endpoint ? { endpoint } : {}) }), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
