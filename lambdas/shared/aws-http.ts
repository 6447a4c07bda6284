import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { endpointOverride } from './env';

/*
 * Signed HTTPS requests to AWS without the SDK's clients, for the one path
 * where their load time is the cost users see: an inference function's cold
 * start (the S3 and DynamoDB clients with their credential chain, endpoint
 * rules and serializers are about 560 KB of the bundle, ~100 ms to load).
 * What it keeps from the SDK is what matters to be exact: requests are signed
 * by the SDK's own SigV4 signer (@smithy/signature-v4). What it keeps small:
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

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): BinaryLike => (typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));

/** Node's hashes in the shape the SigV4 signer takes (a hash, or an HMAC when given a secret). */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
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
  private readonly signer: SignatureV4;
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
    // S3 signs the path as sent (keys are encoded once) and every payload's hash; other services double-encode paths.
    const s3 = service === 's3';
    this.signer = new SignatureV4({ service, region: config.region, credentials: config.credentials, sha256: Sha256, uriEscapePath: !s3, applyChecksum: s3 });
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
  async sign(request: AwsRequest, host = this.base.host): Promise<SignedRequest> {
    // The query is encoded as SigV4 canonicalizes it (RFC 3986: a space is %20, never '+').
    const query = Object.entries(request.query ?? {}).map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&');
    const url = new URL(`${this.base.protocol}//${host}${request.path}${query ? `?${query}` : ''}`);
    const signed = await this.signer.sign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: request.path,
        query: { ...(request.query ?? {}) },
        headers: { host: url.host, ...(request.body !== undefined ? { 'content-length': String(Buffer.byteLength(request.body)) } : {}), ...(request.headers ?? {}) },
        ...(request.body !== undefined ? { body: request.body } : {}),
      },
      { signingDate: this.now() },
    );
    return { url, method: request.method, headers: signed.headers, ...(request.body !== undefined ? { body: request.body } : {}) };
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
        response = await this.once(await this.sign(request, options.host));
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
