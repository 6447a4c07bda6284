import { InvalidEventError } from '../core/errors';

/** The object an S3 "Object Created" EventBridge event announces. */
export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | null;
  readonly etag: string | null;
  readonly size: number | null;
  readonly eventId: string | null;
  readonly eventTime: string | null;
}

/**
 * Parses an EventBridge S3 "Object Created" event into typed values.
 * EventBridge carries the raw key (unlike classic S3 notifications, which URL-encode it).
 * @throws InvalidEventError naming the missing or mistyped field
 */
export function parseObjectCreated(event: unknown): ObjectCreated {
  const e = asObject(event, 'event');
  if (e.source !== 'aws.s3' || e['detail-type'] !== 'Object Created') {
    throw new InvalidEventError(`event: expected source 'aws.s3' and detail-type 'Object Created', got '${String(e.source)}' / '${String(e['detail-type'])}'`);
  }
  const detail = asObject(e.detail, 'detail');
  const bucket = asObject(detail.bucket, 'detail.bucket');
  const object = asObject(detail.object, 'detail.object');
  const name = bucket.name;
  const key = object.key;
  if (typeof name !== 'string' || name === '') throw new InvalidEventError('detail.bucket.name: expected a non-empty string');
  if (typeof key !== 'string' || key === '') throw new InvalidEventError('detail.object.key: expected a non-empty string');
  const versionId = optionalString(object['version-id'], 'detail.object.version-id');
  const etag = optionalString(object.etag, 'detail.object.etag');
  if (versionId === null && etag === null) {
    throw new InvalidEventError('detail.object: neither version-id nor etag is present, so the object version cannot be identified');
  }
  const size = object.size;
  if (size !== undefined && (typeof size !== 'number' || !Number.isFinite(size) || size < 0)) {
    throw new InvalidEventError('detail.object.size: expected a non-negative number');
  }
  return {
    bucket: name,
    key,
    versionId,
    etag,
    size: typeof size === 'number' ? size : null,
    eventId: optionalString(e.id, 'id'),
    eventTime: optionalString(e.time, 'time'),
  };
}

function asObject(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidEventError(`${field}: expected an object`);
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new InvalidEventError(`${field}: expected a string`);
  return value;
}
