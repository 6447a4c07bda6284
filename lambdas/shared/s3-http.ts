import { createHash } from 'node:crypto';
import { AwsHttp, AwsHttpError, awsHttpConfig, encodeSegment, type AwsResponse } from './aws-http';

/*
 * The S3 object operations an inference function needs (GetObject, PutObject
 * if absent), over signed HTTPS without the SDK's S3 client (see aws-http.ts).
 * Requests are addressed as the SDK addresses them: virtual-hosted style
 * (`<bucket>.s3.<region>.amazonaws.com/<key>`), path style for bucket names
 * that cannot be a host name (dots) and for endpoint overrides (emulators).
 * Errors are AwsHttpErrors named by S3's code (NoSuchKey, AccessDenied, ...),
 * as the SDK names its exceptions.
 */

/** Bucket names that can be a DNS label under the S3 host (no dots: TLS wildcard certificates cover one label). */
const VIRTUAL_HOSTABLE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export class S3Http {
  constructor(readonly http: AwsHttp) {}

  /** A client from the environment (region, credentials, AWS_ENDPOINT_URL_S3). */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): S3Http {
    return new S3Http(new AwsHttp('s3', awsHttpConfig(env)));
  }

  /** The object's bytes (that version's, if given). */
  async getBytes(bucket: string, key: string, versionId?: string): Promise<Buffer> {
    const res = await this.http.send({ method: 'GET', ...this.address(bucket, key), ...(versionId ? { query: { versionId } } : {}) }, this.target(bucket));
    if (res.statusCode !== 200) throw s3Error(res, `GetObject s3://${bucket}/${key}`);
    return res.body;
  }

  /** The object's text, or undefined when there is no such key. */
  async getText(bucket: string, key: string): Promise<string | undefined> {
    try {
      return (await this.getBytes(bucket, key)).toString('utf8');
    } catch (err) {
      if (err instanceof AwsHttpError && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /**
   * Writes an object unless the key exists (If-None-Match: *), with its SHA-256
   * checksum (Object-Locked buckets refuse writes without one). Resolves true
   * when written, false when an object was already there (it is kept).
   */
  async putIfAbsent(bucket: string, key: string, body: string | Uint8Array, contentType: string): Promise<boolean> {
    const digest = createHash('sha256').update(body).digest();
    const headers = { 'content-type': contentType, 'if-none-match': '*', 'x-amz-content-sha256': digest.toString('hex'), 'x-amz-checksum-sha256': digest.toString('base64'), 'x-amz-sdk-checksum-algorithm': 'SHA256' };
    const res = await this.http.send({ method: 'PUT', ...this.address(bucket, key), headers, body }, this.target(bucket));
    if (res.statusCode === 200) return true;
    if (res.statusCode === 412) return false;
    throw s3Error(res, `PutObject s3://${bucket}/${key}`);
  }

  private virtualHosted(bucket: string): boolean {
    return !this.http.overridden && VIRTUAL_HOSTABLE.test(bucket);
  }

  private address(bucket: string, key: string): { path: string } {
    const path = `/${key.split('/').map(encodeSegment).join('/')}`;
    return { path: this.virtualHosted(bucket) ? path : `/${encodeSegment(bucket)}${path}` };
  }

  private target(bucket: string): { host?: string } {
    return this.virtualHosted(bucket) ? { host: `${bucket}.${this.http.host}` } : {};
  }
}

/** S3's XML error (`<Code>`, `<Message>`) as an AwsHttpError; a body-less one is named by its status. */
function s3Error(res: AwsResponse, what: string): AwsHttpError {
  const xml = res.body.toString('utf8');
  const code = /<Code>([^<]+)<\/Code>/.exec(xml)?.[1] ?? (res.statusCode === 404 ? 'NotFound' : res.statusCode === 403 ? 'Forbidden' : `Http${res.statusCode}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1];
  return new AwsHttpError(code, `${what}: ${code} (HTTP ${res.statusCode})${message ? `: ${message}` : ''}`, res.statusCode);
}

/** One bucket's artifacts by key (contracts read, captures written once), as ArtifactStore offers them with the SDK. */
export class S3HttpArtifacts {
  constructor(
    private readonly s3: S3Http,
    readonly bucket: string,
  ) {}

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** The object's text, or undefined when there is none. */
  getText(key: string): Promise<string | undefined> {
    return this.s3.getText(this.bucket, key);
  }

  /** Writes once (If-None-Match: *); an existing object at the key is kept. Returns its s3:// URI. */
  async putOnce(key: string, body: string | Uint8Array, contentType: string): Promise<string> {
    await this.s3.putIfAbsent(this.bucket, key, body, contentType);
    return this.uri(key);
  }
}
