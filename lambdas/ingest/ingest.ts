import { parquetMetadataAsync, type AsyncBuffer } from 'hyparquet';
import { digestStream } from '../core/digest';
import { contentProblem, delimitedSchema, detectFormat, isTextFormat, jsonLinesSchema, parquetSchemaFingerprint, SUPPORTED_FORMATS, type SchemaFingerprint } from '../core/dataset-format';
import { UnreadableDatasetError } from '../core/errors';
import { deterministicId, type DatasetVersionData, type LedgerRecord, type RecordDraft } from '../core/lineage';
import type { ObjectCreated } from './event';

/** Bytes kept from the start of a file to read its header or first JSON lines. */
export const HEAD_BYTES = 64 * 1024;

/** An object that can be streamed once and read at random (for Parquet footers). */
export interface OpenedObject {
  readonly body: AsyncIterable<Uint8Array>;
  readonly contentType: string | null;
  readonly versionId: string | null;
  readonly etag: string | null;
}

/** The object store, as ingest needs it. */
export interface ObjectReader {
  /** Opens the exact version the event names. Resolves undefined when it no longer exists. */
  open(ref: ObjectCreated): Promise<OpenedObject | undefined>;
  /** Random access to the same version, for formats whose schema is in a footer. */
  randomAccess(ref: ObjectCreated, size: number): AsyncBuffer;
}

/** The ledger, as ingest needs it. */
export interface DatasetLedger {
  /** Completes (links, copies) and returns an existing record, or undefined. */
  complete(id: string): Promise<{ record: LedgerRecord } | undefined>;
  append(draft: RecordDraft<'DatasetVersion'>): Promise<{ record: LedgerRecord; created: boolean }>;
}

export interface IngestOutcome {
  readonly recordId: string;
  readonly dataset: string;
  readonly status: DatasetVersionData['status'];
  /** True when the object version was already recorded (a duplicate event). */
  readonly duplicate: boolean;
  readonly reason?: string;
  readonly sha256: string | null;
  readonly size: number;
}

/** The id of the DatasetVersion for one object version: the same for every event about it. */
export function datasetVersionId(ref: Pick<ObjectCreated, 'bucket' | 'key' | 'versionId' | 'etag'>): string {
  return deterministicId('dsv', ref.bucket, ref.key, ref.versionId !== null ? `version:${ref.versionId}` : `etag:${ref.etag ?? ''}`);
}

/** `<prefix><dataset>/<file...>` -> dataset, or a reason the key does not fit. */
export function datasetOf(key: string, prefix: string): { dataset: string } | { reason: string } {
  if (!key.startsWith(prefix)) return { reason: `key is outside the data prefix '${prefix}'` };
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return { reason: `key must be '${prefix}<dataset>/<file>'` };
  const dataset = rest.slice(0, slash);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(dataset)) return { reason: `dataset name '${dataset}' must be letters, digits, '.', '_' or '-' (at most 100)` };
  return { dataset };
}

/**
 * Records one uploaded object as a DatasetVersion: streams it once (SHA-256,
 * size, UTF-8 check, head kept for the schema), reads its schema, and appends
 * the record. A file that cannot be used is recorded as rejected with the
 * reason; nothing is dropped, deleted or overwritten. A repeated event for the
 * same object version returns the existing record without reading the object.
 */
export async function ingestObject(ref: ObjectCreated, deps: { objects: ObjectReader; ledger: DatasetLedger }, options: { dataPrefix: string }): Promise<IngestOutcome> {
  const id = datasetVersionId(ref);
  const existing = await deps.ledger.complete(id);
  if (existing) return outcomeOf(existing.record as LedgerRecord<'DatasetVersion'>, true);

  const place = datasetOf(ref.key, options.dataPrefix);
  const dataset = 'dataset' in place ? place.dataset : '_unassigned';
  const base = {
    dataset,
    bucket: ref.bucket,
    key: ref.key,
    versionId: ref.versionId,
    etag: ref.etag,
    source: { eventId: ref.eventId, eventTime: ref.eventTime },
  };
  const data = await describe(ref, deps.objects, base, 'reason' in place ? place.reason : undefined);
  const { record, created } = await deps.ledger.append({ kind: 'DatasetVersion', id, subject: `dataset/${dataset}`, data });
  return outcomeOf(record as LedgerRecord<'DatasetVersion'>, !created);
}

type Base = Pick<DatasetVersionData, 'dataset' | 'bucket' | 'key' | 'versionId' | 'etag' | 'source'>;

async function describe(ref: ObjectCreated, objects: ObjectReader, base: Base, placementProblem: string | undefined): Promise<DatasetVersionData> {
  const opened = await objects.open(ref);
  if (!opened) {
    return { ...base, sha256: null, size: ref.size ?? 0, contentType: null, format: null, status: 'rejected', reason: 'unreadable: the object version no longer exists' };
  }
  const format = detectFormat(ref.key, opened.contentType ?? undefined) ?? null;
  const digest = await digestStream(opened.body, { validateUtf8: format !== null && isTextFormat(format), headBytes: HEAD_BYTES });
  const facts = { ...base, versionId: opened.versionId ?? base.versionId, etag: opened.etag ?? base.etag, sha256: digest.sha256, size: digest.size, contentType: opened.contentType, format };
  const reject = (reason: string): DatasetVersionData => ({ ...facts, status: 'rejected', reason });

  if (placementProblem) return reject(placementProblem);
  if (format === null) return reject(`unsupported format: '${ref.key}' is none of ${SUPPORTED_FORMATS.join(', ')} (by extension or Content-Type)`);
  if (digest.size === 0) return reject('empty file');
  const sniffed = contentProblem(format, digest.head);
  if (sniffed) return reject(sniffed);
  if (digest.utf8 && !digest.utf8.valid) return reject(`not valid UTF-8 at byte ${digest.utf8.offset}: ${digest.utf8.reason}`);

  let schema: SchemaFingerprint;
  try {
    schema =
      format === 'parquet'
        ? await readParquetSchema(objects.randomAccess(ref, digest.size))
        : format === 'jsonl'
          ? jsonLinesSchema(digest.head, digest.headIsWholeFile)
          : delimitedSchema(format, digest.head, digest.headIsWholeFile);
  } catch (err) {
    if (err instanceof UnreadableDatasetError) return reject(`unreadable ${format}: ${err.message}`);
    throw err;
  }
  return {
    ...facts,
    status: 'accepted',
    schema: { fingerprint: schema.fingerprint, columns: schema.columns, source: schema.source, ...(schema.numRows !== undefined ? { numRows: schema.numRows } : {}) },
  };
}

async function readParquetSchema(buffer: AsyncBuffer): Promise<SchemaFingerprint> {
  try {
    return parquetSchemaFingerprint(await parquetMetadataAsync(buffer));
  } catch (err) {
    throw new UnreadableDatasetError(`footer: ${(err as Error).message}`, { cause: err });
  }
}

function outcomeOf(record: LedgerRecord<'DatasetVersion'>, duplicate: boolean): IngestOutcome {
  const d = record.data;
  return { recordId: record.id, dataset: d.dataset, status: d.status, duplicate, sha256: d.sha256, size: d.size, ...(d.reason ? { reason: d.reason } : {}) };
}
