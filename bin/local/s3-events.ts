import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';

/** The EventBridge "Object Created" event S3 sends for a PutObject, built from the real response. */
export function objectCreatedEvent(bucket: string, key: string, size: number, etag: string | undefined, versionId: string | undefined): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size, etag: etag?.replace(/"/g, ''), ...(versionId ? { 'version-id': versionId } : {}), sequencer: Date.now().toString(16).toUpperCase() },
      'request-id': randomUUID(),
      requester: '000000000000',
      reason: 'PutObject',
    },
  };
}

/** Uploads an object and returns the event S3 would publish for it. */
export async function uploadWithEvent(s3: S3Client, input: Omit<PutObjectCommandInput, 'Body'> & { Bucket: string; Key: string; Body: Uint8Array | string }): Promise<Record<string, unknown>> {
  const size = typeof input.Body === 'string' ? Buffer.byteLength(input.Body) : input.Body.byteLength;
  const out = await s3.send(new PutObjectCommand({ ...input, ContentLength: size }));
  return objectCreatedEvent(input.Bucket, input.Key, size, out.ETag, out.VersionId);
}
