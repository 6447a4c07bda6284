import { DatasetParseError } from '../core/errors';
import type { DatasetVersionData, LedgerRecord } from '../core/lineage';
import type { DatasetProfile } from '../core/profile/dataset-profile';
import { profileInParallel } from '../core/profile/parallel';
import { forEachDelimitedRow, forEachJsonRecord, forEachParquetRecord, profileDelimited, profileJsonLines, profileParquet } from '../core/profile/readers';
import type { ObjectCreated } from '../ingest/event';
import type { ObjectReader } from '../ingest/ingest';

/*
 * Reading the exact object version a DatasetVersion names, in its own format,
 * for the gates: as a profile, or record by record.
 */

/** A dataset file to read: a DatasetVersion, or a file made from one (a training snapshot's holdout). */
export interface DatasetFile {
  readonly data: Pick<DatasetVersionData, 'bucket' | 'key' | 'versionId' | 'etag' | 'size' | 'format'>;
}

/** The S3 object version a DatasetVersion names, and its name for messages. */
export function locate(dsv: DatasetFile): { ref: ObjectCreated; file: string } {
  const d = dsv.data;
  return { ref: { bucket: d.bucket, key: d.key, versionId: d.versionId, etag: d.etag, size: d.size, eventId: null, eventTime: null }, file: `s3://${d.bucket}/${d.key}` };
}

async function open(objects: ObjectReader, ref: ObjectCreated, file: string): Promise<AsyncIterable<Uint8Array>> {
  const opened = await objects.open(ref);
  if (!opened) throw new DatasetParseError({ file }, 'the object version no longer exists');
  return opened.body;
}

/** Text versions smaller than this are profiled on one thread: starting workers would cost more than it saves. */
const PARALLEL_MIN_BYTES = 8 * 1024 * 1024;

/** How many threads profileDatasetVersion uses for this version, given `workers`. */
export function profileThreads(dsv: LedgerRecord<'DatasetVersion'>, workers: number): number {
  const format = dsv.data.format;
  return workers > 1 && dsv.data.size >= PARALLEL_MIN_BYTES && (format === 'csv' || format === 'tsv' || format === 'jsonl') ? workers : 1;
}

/**
 * Profiles the dataset version in one streaming pass; CSV, TSV and JSON Lines
 * on `workers` threads when there are several (and the file is big enough).
 */
export async function profileDatasetVersion(dsv: LedgerRecord<'DatasetVersion'>, objects: ObjectReader, options: { workers?: number } = {}): Promise<DatasetProfile> {
  const { ref, file } = locate(dsv);
  const format = dsv.data.format;
  const workers = profileThreads(dsv, options.workers ?? 1);
  if (workers > 1 && (format === 'csv' || format === 'tsv' || format === 'jsonl')) {
    return profileInParallel(await open(objects, ref, file), { file, format, workers });
  }
  switch (format) {
    case 'parquet':
      return profileParquet(objects.randomAccess(ref, dsv.data.size), { file });
    case 'jsonl':
      return profileJsonLines(await open(objects, ref, file), { file });
    case 'csv':
    case 'tsv':
      return profileDelimited(await open(objects, ref, file), { file, delimiter: dsv.data.format === 'tsv' ? '\t' : ',' });
    default:
      throw new DatasetParseError({ file }, `format '${String(dsv.data.format)}' cannot be read`);
  }
}

/** Calls `onRecord` for every record (CSV/TSV cells keyed by header, as text). */
export async function forEachDatasetRecord(dsv: DatasetFile, objects: ObjectReader, onRecord: (record: Record<string, unknown>, row: number) => void): Promise<void> {
  const { ref, file } = locate(dsv);
  switch (dsv.data.format) {
    case 'parquet':
      return forEachParquetRecord(objects.randomAccess(ref, dsv.data.size), file, onRecord);
    case 'jsonl':
      return forEachJsonRecord(await open(objects, ref, file), file, onRecord);
    case 'csv':
    case 'tsv': {
      let header: string[] = [];
      return forEachDelimitedRow(
        await open(objects, ref, file),
        { file, delimiter: dsv.data.format === 'tsv' ? '\t' : ',' },
        (h) => (header = h),
        (cells, row) => onRecord(Object.fromEntries(header.map((name, i) => [name, cells[i]])), row),
      );
    }
    default:
      throw new DatasetParseError({ file }, `format '${String(dsv.data.format)}' cannot be read`);
  }
}
