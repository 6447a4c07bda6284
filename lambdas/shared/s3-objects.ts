import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsCommand, ListObjectsV2Command, NoSuchKey, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import type { AsyncBuffer } from 'hyparquet';
import type { ObjectCreated } from '../ingest/event';
import type { ObjectReader, OpenedObject } from '../ingest/ingest';
import { digestStream } from '../core/digest';
import { parseS3Uri, type ObjectBytesReader } from './model-artifacts';

/** Reads the exact object version an event names: by version id, else pinned by ETag. */
export class S3ObjectReader implements ObjectReader, ObjectBytesReader {
  constructor(private readonly s3: S3Client) {}

  /** An object's bytes (that version's, if given); errors are the SDK's, named by S3's code. */
  async getBytes(bucket: string, key: string, versionId?: string): Promise<Uint8Array> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
    return out.Body!.transformToByteArray();
  }

  async open(ref: ObjectCreated): Promise<OpenedObject | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...pin(ref) }));
      return {
        body: out.Body as Readable,
        contentType: out.ContentType ?? null,
        versionId: out.VersionId ?? ref.versionId,
        etag: out.ETag ? out.ETag.replace(/"/g, '') : ref.etag,
      };
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  /** The exact version's bytes from `start` to the end, streamed (a shard reads what it needs and stops). */
  async openFrom(ref: ObjectCreated, start: number): Promise<AsyncIterable<Uint8Array> | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...(start > 0 ? { Range: `bytes=${start}-` } : {}), ...pin(ref) }));
      return out.Body as Readable;
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  randomAccess(ref: ObjectCreated, size: number): AsyncBuffer {
    return {
      byteLength: size,
      slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
        const last = (end ?? size) - 1;
        if (last < start) return new ArrayBuffer(0);
        const out = await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, Range: `bytes=${start}-${last}`, ...pin(ref) }));
        const bytes = await out.Body!.transformToByteArray();
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      },
    };
  }
}

/** The hex SHA-256 of an s3:// object's bytes (streamed) and the version read; errors are the SDK's (NoSuchKey when it is gone). */
export async function objectDigest(s3: S3Client, uri: string): Promise<{ readonly sha256: string; readonly versionId?: string }> {
  const { bucket, key } = parseS3Uri(uri);
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const { sha256 } = await digestStream(out.Body as Readable, { validateUtf8: false, headBytes: 0 });
  return out.VersionId ? { sha256, versionId: out.VersionId } : { sha256 };
}

function pin(ref: ObjectCreated): { VersionId?: string; IfMatch?: string } {
  if (ref.versionId) return { VersionId: ref.versionId };
  return ref.etag ? { IfMatch: `"${ref.etag}"` } : {};
}

/** The version is gone (deleted, or replaced in an unversioned bucket): a fact to record, not a fault to retry. */
function isGone(err: unknown): boolean {
  if (err instanceof NoSuchKey) return true;
  if (err instanceof S3ServiceException) return err.name === 'NoSuchKey' || err.name === 'NoSuchVersion' || err.$metadata.httpStatusCode === 412;
  return false;
}

/**
 * Every object under `prefix`, in key order: ListObjectsV2, paged by StartAfter. A store that
 * fails to write a truncated V2 page (s3rver on Node 20: its continuation tokens use DES, which
 * OpenSSL 3 refuses, so any listing past 1,000 keys answers InternalError) is read with
 * ListObjects (V1), paged by Marker, which S3 serves too.
 */
export async function* listObjects(s3: S3Client, bucket: string, prefix: string): AsyncIterable<{ readonly Key: string; readonly Size?: number }> {
  let after: string | undefined;
  let v1 = false;
  for (;;) {
    let page: { Contents?: { Key?: string; Size?: number }[]; IsTruncated?: boolean };
    try {
      page = v1
        ? await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: after }))
        : await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, StartAfter: after }));
    } catch (err) {
      if (v1 || (err as Error).name !== 'InternalError') throw err;
      v1 = true;
      continue;
    }
    const contents = (page.Contents ?? []).filter((c): c is { Key: string; Size?: number } => typeof c.Key === 'string');
    yield* contents;
    const last = contents.at(-1)?.Key;
    if (!page.IsTruncated || !last) return;
    after = last;
  }
}
