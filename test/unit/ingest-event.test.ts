import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../lambdas/core/errors';
import { parseObjectCreated } from '../../lambdas/ingest/event';
import { datasetOf, datasetVersionId } from '../../lambdas/ingest/ingest';

const fixture = (name: string): Record<string, any> => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'events', 's3', name), 'utf8'));

describe('parseObjectCreated', () => {
  it('reads a versioned object (the raw key: EventBridge does not URL-encode it)', () => {
    // Prepare
    const event = fixture('object-created.json');
    // Act
    const ref = parseObjectCreated(event);
    // Assess
    expect(ref).toEqual({
      bucket: 'amzn-s3-demo-bucket1',
      key: 'data/wages/part 1+2.csv',
      versionId: 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e',
      etag: 'b1946ac92492d2347c6235b4d2611184',
      size: 5,
      eventId: '17793124-05d4-b198-2fde-7ededc63b103',
      eventTime: '2021-11-12T00:00:00Z',
    });
  });

  it('reads an unversioned object (etag only)', () => {
    expect(parseObjectCreated(fixture('object-created-unversioned.json'))).toMatchObject({ versionId: null, etag: 'd41d8cd98f00b204e9800998ecf8427e', size: 0 });
  });

  it.each([
    ['not an object', () => 'x', 'event: expected an object'],
    ['another source', (e: any) => ({ ...e, source: 'aws.ec2' }), "event: expected source 'aws.s3'"],
    ['no detail', (e: any) => ({ ...e, detail: undefined }), 'detail: expected an object'],
    ['no bucket name', (e: any) => ({ ...e, detail: { ...e.detail, bucket: {} } }), 'detail.bucket.name: expected a non-empty string'],
    ['no key', (e: any) => ({ ...e, detail: { ...e.detail, object: { ...e.detail.object, key: '' } } }), 'detail.object.key: expected a non-empty string'],
    ['neither version nor etag', (e: any) => ({ ...e, detail: { ...e.detail, object: { key: 'k' } } }), 'detail.object: neither version-id nor etag'],
    ['a negative size', (e: any) => ({ ...e, detail: { ...e.detail, object: { ...e.detail.object, size: -1 } } }), 'detail.object.size: expected a non-negative number'],
    ['a numeric version id', (e: any) => ({ ...e, detail: { ...e.detail, object: { ...e.detail.object, 'version-id': 7 } } }), 'detail.object.version-id: expected a string'],
  ])('rejects %s, naming the field', (_n, mutate, message) => {
    const event = mutate(fixture('object-created.json'));
    expect(() => parseObjectCreated(event)).toThrow(InvalidEventError);
    expect(() => parseObjectCreated(event)).toThrow(message);
  });
});

describe('datasetOf / datasetVersionId', () => {
  it.each([
    ['data/wages/a.csv', { dataset: 'wages' }],
    ['data/wages/2024/01/a.csv', { dataset: 'wages' }],
    ['data/a.csv', { reason: "key must be 'data/<dataset>/<file>'" }],
    ['data/wages/', { reason: "key must be 'data/<dataset>/<file>'" }],
    ['other/wages/a.csv', { reason: "key is outside the data prefix 'data/'" }],
    ['data/wa ges/a.csv', { reason: "dataset name 'wa ges' must be letters, digits, '.', '_' or '-' (at most 100)" }],
  ])('%s -> %j', (key, expected) => {
    expect(datasetOf(key, 'data/')).toEqual(expected);
  });

  it('gives every event about one object version the same id, and other versions other ids', () => {
    const ref = { bucket: 'b', key: 'k', versionId: 'v1', etag: 'e' };
    expect(datasetVersionId(ref)).toBe(datasetVersionId({ ...ref, etag: 'other' }));
    expect(datasetVersionId(ref)).not.toBe(datasetVersionId({ ...ref, versionId: 'v2' }));
    expect(datasetVersionId({ ...ref, versionId: null })).not.toBe(datasetVersionId({ ...ref, versionId: null, etag: 'e2' }));
  });
});
