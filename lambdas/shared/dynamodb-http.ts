import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { AwsHttp, AwsHttpError, awsHttpConfig, type AwsResponse } from './aws-http';

/*
 * The DynamoDB reads an inference function needs (GetItem, Query), over signed
 * HTTPS without the SDK's DynamoDB client (see aws-http.ts). The JSON protocol
 * is the one the SDK speaks (`X-Amz-Target: DynamoDB_20120810.<Operation>`);
 * items are (un)marshalled by the SDK's own @aws-sdk/util-dynamodb, as the
 * DocumentClient does. Throttling errors are retried; a response whose
 * x-amz-crc32 does not match its body is retried like a network error.
 */

type Item = Record<string, unknown>;

const THROTTLING = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'LimitExceededException']);

export interface QueryInput {
  readonly TableName: string;
  readonly IndexName?: string;
  readonly KeyConditionExpression: string;
  readonly ExpressionAttributeValues: Item;
  readonly ConsistentRead?: boolean;
  readonly ScanIndexForward?: boolean;
  readonly Limit?: number;
}

export class DynamoDbHttp {
  constructor(readonly http: AwsHttp) {}

  /** A client from the environment (region, credentials, AWS_ENDPOINT_URL_DYNAMODB). */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): DynamoDbHttp {
    return new DynamoDbHttp(new AwsHttp('dynamodb', awsHttpConfig(env)));
  }

  /** The item with this key, or undefined. */
  async getItem(table: string, key: Item, consistentRead = true): Promise<Item | undefined> {
    const out = await this.call<{ Item?: Record<string, never> }>('GetItem', { TableName: table, Key: marshall(key), ConsistentRead: consistentRead });
    return out.Item ? unmarshall(out.Item) : undefined;
  }

  /** Every item the query matches (all pages). */
  async query(input: QueryInput): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, never> | undefined;
    do {
      const out = await this.call<{ Items?: Record<string, never>[]; LastEvaluatedKey?: Record<string, never> }>('Query', { ...input, ExpressionAttributeValues: marshall(input.ExpressionAttributeValues), ...(start ? { ExclusiveStartKey: start } : {}) });
      for (const item of out.Items ?? []) items.push(unmarshall(item));
      start = out.LastEvaluatedKey;
    } while (start && (input.Limit === undefined || items.length < input.Limit));
    return items;
  }

  /** One DynamoDB API call; an error response is an AwsHttpError named by its `__type`. */
  async call<T>(operation: string, input: unknown): Promise<T> {
    const res = await this.http.send(
      { method: 'POST', path: '/', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}` }, body: JSON.stringify(input) },
      { retryable: (r) => (r.statusCode === 400 && THROTTLING.has(errorType(r))) || !crcMatches(r) },
    );
    if (!crcMatches(res)) throw new AwsHttpError('CRC32CheckFailed', `DynamoDB ${operation}: the response does not match its x-amz-crc32 (after retries)`, res.statusCode);
    if (res.statusCode !== 200) {
      const { type, message } = errorOf(res);
      throw new AwsHttpError(type, `DynamoDB ${operation}: ${type} (HTTP ${res.statusCode})${message ? `: ${message}` : ''}`, res.statusCode);
    }
    return JSON.parse(res.body.toString('utf8')) as T;
  }
}

/** The error's short name (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` -> `ResourceNotFoundException`) and message. */
function errorOf(res: AwsResponse): { type: string; message: string } {
  let body: { __type?: string; message?: string; Message?: string } = {};
  try {
    body = JSON.parse(res.body.toString('utf8')) as typeof body;
  } catch {
    // not JSON (a proxy's error page): named by its status
  }
  const type = body.__type ?? '';
  return { type: type.slice(type.lastIndexOf('#') + 1) || `Http${res.statusCode}`, message: body.message ?? body.Message ?? '' };
}

const errorType = (res: AwsResponse): string => errorOf(res).type;

/** DynamoDB sends the CRC32 of every response body; a truncated or altered body does not match. */
function crcMatches(res: AwsResponse): boolean {
  const header = res.headers['x-amz-crc32'];
  return header === undefined || Number(header) === crc32(res.body);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, zlib's), here rather than from node:zlib: loading zlib costs a cold start ~4 ms for a 1 KB check. */
export function crc32(bytes: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

