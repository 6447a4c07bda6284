import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { endpointOverride } from './env';

/*
 * Signed HTTPS requests to AWS without the SDK's clients, for the one path
 * where their load time is the cost users see: an inference function's cold
 * start (the S3 and DynamoDB clients with their credential chain, endpoint
 * rules and serializers are about 560 KB of the bundle, ~100 ms to load).
 * Requests are signed with Signature Version 4 here (`sigV4Headers`, about 50
 * lines on node:crypto, synchronous; the SDK's signer took ~1 ms more to its
 * first signature and 13 KB more of bundle), tested against AWS's published
 * examples and, request by request, against the SDK's own signer
 * (@smithy/signature-v4). What it keeps small:
 *
 *   - credentials from the environment only (AWS_ACCESS_KEY_ID,
 *     AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: what Lambda provides), read
 *     once, as the SDK's environment provider does;
 *   - regional endpoints (aws, aws-cn, aws-us-gov partitions; FIPS with
 *     AWS_USE_FIPS_ENDPOINT), or AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL
 *     as the SDK reads them (the local emulators);
 *   - retries of network errors, throttling and 5xx, with jittered
 *     exponential backoff (3 attempts, like the SDK's standard mode), and a
 *     timeout per attempt.
 *
 * Service requests (S3 objects, DynamoDB items) are built on it in
 * s3-http.ts and dynamodb-http.ts; their wire format is tested against the
 * SDK's own requests.
 */

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Where and as whom requests go: read from an environment by `awsHttpConfig`. */
export interface AwsHttpConfig {
  readonly region: string;
  readonly credentials: AwsCredentials;
  /** Endpoint overrides by service ('s3', 'dynamodb'), e.g. a local emulator's `http://127.0.0.1:4569`. */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly useFips: boolean;
}

/** An AWS error response (or a network failure after the last retry), named by its error code. */
export class AwsHttpError extends Error {
  constructor(
    /** The service's error code, e.g. 'NoSuchKey', 'ResourceNotFoundException'. */
    readonly code: string,
    message: string,
    /** HTTP status; 0 when no response came. */
    readonly statusCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = code;
  }
}

/** The region, credentials and endpoint overrides an environment gives; a missing one is named. */
export function awsHttpConfig(env: NodeJS.ProcessEnv = process.env): AwsHttpConfig {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new Error('environment AWS_REGION is not set (Lambda sets it)');
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (!accessKeyId || !secretAccessKey) throw new Error('environment AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the execution role)');
  const endpoints: Record<string, string> = {};
  for (const service of ['s3', 'dynamodb'] as const) {
    const url = endpointOverride(service, env);
    if (url) endpoints[service] = url.replace(/\/+$/, '');
  }
  return { region, credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }, endpoints, useFips: env.AWS_USE_FIPS_ENDPOINT === 'true' };
}

/** A request before signing. `path` is already URI-encoded; `host` overrides the service's regional host. */
export interface AwsRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'HEAD';
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

export interface AwsResponse {
  readonly statusCode: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A request as it goes on the wire (signed): for tests that compare it with the SDK's. */
export interface SignedRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
}

const SIGV4 = 'AWS4-HMAC-SHA256';
// Headers SigV4 leaves unsigned, as the SDK's signer does (proxies and hops may change them).
const UNSIGNED_HEADERS = new Set(['authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma', 'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id']);

const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** The canonical URI: S3's path as sent; other services' normalized (no empty, '.' or '..' segments) and encoded again. */
function canonicalPath(path: string, s3: boolean): string {
  if (s3) return path;
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return encodeSegment(normalized).replace(/%2F/g, '/');
}

/** The canonical query: names and values RFC 3986-encoded, sorted by encoded name (names are unique). */
function canonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .filter(([name]) => name.toLowerCase() !== 'x-amz-signature')
    .map(([name, value]) => [encodeSegment(name), encodeSegment(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/**
 * Signature Version 4 (AWS General Reference, "Create a signed AWS API request"):
 * the request's headers with `x-amz-date`, the session token, S3's payload hash
 * (`x-amz-content-sha256`, unless given) and `authorization` added.
 */
export function sigV4Headers(
  request: { method: string; path: string; query: Readonly<Record<string, string>>; headers: Readonly<Record<string, string>>; body?: string | Uint8Array },
  scope: { service: string; region: string; credentials: AwsCredentials; date: Date },
  signingKeys: SigningKeys = new SigningKeys(),
): Record<string, string> {
  const s3 = scope.service === 's3';
  const amzDate = scope.date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  headers['x-amz-date'] = amzDate;
  if (scope.credentials.sessionToken) headers['x-amz-security-token'] = scope.credentials.sessionToken;
  const payloadHash = headers['x-amz-content-sha256'] ?? sha256Hex(request.body ?? '');
  if (s3) headers['x-amz-content-sha256'] = payloadHash;
  const signed = Object.keys(headers)
    .filter((name) => !UNSIGNED_HEADERS.has(name) && !name.startsWith('proxy-') && !name.startsWith('sec-'))
    .sort();
  const canonicalRequest = [
    request.method,
    canonicalPath(request.path, s3),
    canonicalQuery(request.query),
    signed.map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`).join(''),
    signed.join(';'),
    payloadHash,
  ].join('\n');
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = `${SIGV4}\n${amzDate}\n${credentialScope}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', signingKeys.key(day, scope.region, scope.service, scope.credentials.secretAccessKey)).update(stringToSign).digest('hex');
  headers.authorization = `${SIGV4} Credential=${scope.credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return headers;
}

/** The day's signing key (HMAC chain over date, region, service), kept until the day or the secret changes. */
export class SigningKeys {
  private last?: { id: string; key: Buffer };

  key(day: string, region: string, service: string, secret: string): Buffer {
    const id = `${day}/${region}/${service}/${secret}`;
    if (this.last?.id !== id) this.last = { id, key: hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request') };
    return this.last.key;
  }
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']);

export interface AwsHttpOptions {
  /** Attempts per request, the first included. @default 3 */
  readonly maxAttempts?: number;
  /** Milliseconds an attempt may go without network activity (connecting, or between bytes). @default 10000 */
  readonly attemptTimeoutMs?: number;
  /** Base of the exponential backoff (full jitter), ms. @default 50 */
  readonly backoffBaseMs?: number;
  /** @default - the system clock */
  readonly now?: () => Date;
}

/** Signs and sends requests to one service (its SigV4 name, e.g. 's3', 'dynamodb'). */
export class AwsHttp {
  private readonly signingKeys = new SigningKeys();
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly maxAttempts: number;
  private readonly attemptTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly now: () => Date;

  constructor(
    readonly service: string,
    readonly config: AwsHttpConfig,
    options: AwsHttpOptions = {},
  ) {
    this.base = new URL(config.endpoints[service] ?? `https://${regionalHost(service, config.region, config.useFips)}`);
    this.agent = this.base.protocol === 'http:' ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true });
    this.maxAttempts = options.maxAttempts ?? 3;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.backoffBaseMs = options.backoffBaseMs ?? 50;
    this.now = options.now ?? (() => new Date());
  }

  /** True when requests go to an endpoint override (an emulator), not the service's regional endpoint. */
  get overridden(): boolean {
    return this.config.endpoints[this.service] !== undefined;
  }

  /** The endpoint's host (with port, if any). */
  get host(): string {
    return this.base.host;
  }

  /** Signs a request for `host` (default: the endpoint's). */
  sign(request: AwsRequest, host = this.base.host): SignedRequest {
    // The query is encoded as SigV4 canonicalizes it (RFC 3986: a space is %20, never '+').
    const query = Object.entries(request.query ?? {}).map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&');
    const url = new URL(`${this.base.protocol}//${host}${request.path}${query ? `?${query}` : ''}`);
    const headers = sigV4Headers(
      {
        method: request.method,
        path: request.path,
        query: request.query ?? {},
        headers: { host: url.host, ...(request.body !== undefined ? { 'content-length': String(Buffer.byteLength(request.body)) } : {}), ...(request.headers ?? {}) },
        ...(request.body !== undefined ? { body: request.body } : {}),
      },
      { service: this.service, region: this.config.region, credentials: this.config.credentials, date: this.now() },
      this.signingKeys,
    );
    return { url, method: request.method, headers, ...(request.body !== undefined ? { body: request.body } : {}) };
  }

  /**
   * Sends a request, retrying network errors, throttling (`retryable` says which
   * error responses are) and 5xx. Resolves with any response that is not retried,
   * error statuses included: the caller reads its service's error format.
   */
  async send(request: AwsRequest, options: { host?: string; retryable?: (response: AwsResponse) => boolean } = {}): Promise<AwsResponse> {
    for (let attempt = 1; ; attempt++) {
      let response: AwsResponse | undefined;
      let failure: unknown;
      try {
        response = await this.once(this.sign(request, options.host));
      } catch (err) {
        if (!NETWORK_CODES.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        failure = err;
      }
      const retry = response === undefined || RETRYABLE_STATUS.has(response.statusCode) || (options.retryable?.(response) ?? false);
      if (!retry) return response!;
      if (attempt >= this.maxAttempts) {
        if (response) return response;
        const code = (failure as NodeJS.ErrnoException).code ?? 'NetworkError';
        throw new AwsHttpError(code, `${this.service} ${request.method} ${request.path}: ${(failure as Error).message} (after ${attempt} attempts)`, 0, { cause: failure });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * this.backoffBaseMs * 2 ** (attempt - 1)));
    }
  }

  private once(signed: SignedRequest): Promise<AwsResponse> {
    const transport = signed.url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = transport.request(signed.url, { method: signed.method, headers: signed.headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.setTimeout(this.attemptTimeoutMs, () => req.destroy(Object.assign(new Error(`no network activity for ${this.attemptTimeoutMs} ms`), { code: 'TimeoutError' })));
      req.on('error', reject);
      req.end(signed.body);
    });
  }
}

/** The service's regional host: `<service>[-fips].<region>.amazonaws.com` (`.com.cn` in China). */
export function regionalHost(service: string, region: string, fips = false): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `${service}${fips ? '-fips' : ''}.${region}.${suffix}`;
}

/** RFC 3986 encoding of one path segment, as S3 and the SDK encode object keys. */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
