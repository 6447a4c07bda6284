import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { listObjects } from './s3-objects';
import { CdkMlopsError } from '../core/errors';
import { sha256Hex } from '../core/lineage';

/** A write-once key already holds other bytes than the ones to be pinned there. */
export class ArtifactConflictError extends CdkMlopsError {}

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

  /** Keys under `prefix`, in key order (every page, past 1,000 keys on s3rver too: see listObjects). */
  async *list(prefix: string): AsyncIterable<string> {
    for await (const o of listObjects(this.s3, this.bucket, prefix)) yield o.Key;
  }

  /** Writes JSON once (If-None-Match: *); an existing object at the key is kept. Returns its s3:// URI. */
  async putJson(key: string, value: unknown): Promise<string> {
    return this.putOnce(key, JSON.stringify(value, jsonNumbers), 'application/json');
  }

  /**
   * Writes bytes once and says which object version holds them (a model, pinned by its record):
   * the version written, or, when the key already holds these very bytes, that object's version.
   * A key holding other bytes is an ArtifactConflictError (nothing is overwritten). `versionId`
   * is absent where the bucket keeps no versions (s3rver).
   */
  async putPinned(key: string, body: Uint8Array, contentType: string): Promise<{ uri: string; versionId?: string }> {
    try {
      const out = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: '*' }));
      return { uri: this.uri(key), ...(out.VersionId && out.VersionId !== 'null' ? { versionId: out.VersionId } : {}) };
    } catch (err) {
      if (!(err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 412 || err.name === 'PreconditionFailed'))) throw err;
    }
    const existing = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const found = sha256Hex(await existing.Body!.transformToByteArray());
    if (found !== sha256Hex(body)) throw new ArtifactConflictError(`${this.uri(key)} already holds other bytes (SHA-256 ${found}); nothing was overwritten`);
    return { uri: this.uri(key), ...(existing.VersionId && existing.VersionId !== 'null' ? { versionId: existing.VersionId } : {}) };
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
