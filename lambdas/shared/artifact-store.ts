import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';

/** Reads and writes JSON/text artifacts (profiles, contracts, reports) in one bucket. Writes never overwrite. */
export class ArtifactStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** The object's text, or undefined when there is none. */
  async getText(key: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await out.Body!.transformToString('utf8');
    } catch (err) {
      if (err instanceof NoSuchKey || (err instanceof S3ServiceException && err.name === 'NoSuchKey')) return undefined;
      throw err;
    }
  }

  /** Keys under `prefix`, in key order (every page). */
  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) yield o.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Writes JSON once (If-None-Match: *); an existing object at the key is kept. Returns its s3:// URI. */
  async putJson(key: string, value: unknown): Promise<string> {
    return this.putOnce(key, JSON.stringify(value, jsonNumbers), 'application/json');
  }

  /** Writes bytes once (If-None-Match: *); an existing object at the key is kept. Returns its s3:// URI. */
  async putOnce(key: string, body: string | Uint8Array, contentType: string): Promise<string> {
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: '*' }));
    } catch (err) {
      if (!(err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 412 || err.name === 'PreconditionFailed'))) throw err;
    }
    return this.uri(key);
  }
}

/** JSON has no Infinity or NaN: write them as strings rather than as a silent null. */
export function jsonNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return value;
}
