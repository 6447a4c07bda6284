import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { DatasetParseError } from '../core/errors';
import type { LedgerRecord } from '../core/lineage';
import { inHoldout } from '../core/pipeline';
import { forEachDelimitedRow } from '../core/profile/readers';
import type { ObjectReader } from '../ingest/ingest';
import { forEachDatasetRecord, locate } from '../shared/dataset-reader';

/*
 * The training snapshot of a dataset version, split in two files: `train` (the
 * channel the training job reads) and `holdout` (kept from the trainer, the
 * rows champion and challenger are judged on). CSV and TSV stay CSV and TSV
 * (header first, cells quoted where needed), JSON Lines stays JSON Lines, and
 * Parquet becomes JSON Lines (values keep their JSON types). Which side a row
 * is on is inHoldout's: its content, not its position.
 */

export type SnapshotFormat = 'csv' | 'tsv' | 'jsonl';

export interface SplitFile {
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
  /** Hex SHA-256 of the bytes written. */
  readonly sha256: string;
}

export interface Split {
  readonly format: SnapshotFormat;
  readonly train: SplitFile;
  readonly holdout: SplitFile;
}

/** The snapshot's format for a dataset version's format. */
export function snapshotFormat(format: string | null): SnapshotFormat {
  if (format === 'csv' || format === 'tsv' || format === 'jsonl') return format;
  if (format === 'parquet') return 'jsonl';
  throw new DatasetParseError({ file: 'dataset' }, `format '${String(format)}' cannot be split for training`);
}

/** A file written in 1 MiB appends, hashed as it is written. */
class LineFile {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private pending: string[] = [];
  private pendingChars = 0;
  rows = 0;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  line(text: string, isRow = true): void {
    this.pending.push(text, '\n');
    this.pendingChars += text.length + 1;
    if (isRow) this.rows++;
    if (this.pendingChars >= 1 << 20) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(''), 'utf8');
    this.hash.update(chunk);
    this.bytes += writeSync(this.fd, chunk);
    this.pending = [];
    this.pendingChars = 0;
  }

  close(): SplitFile {
    this.flush();
    closeSync(this.fd);
    return { path: this.path, rows: this.rows, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

/** One CSV/TSV field, quoted when it holds the delimiter, a quote or a line break. */
export function delimitedField(value: string, delimiter: string): string {
  return value.includes(delimiter) || value.includes('"') || value.includes('\n') || value.includes('\r') ? `"${value.replace(/"/g, '""')}"` : value;
}

const jsonLine = (record: Readonly<Record<string, unknown>>): string => JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v));

/**
 * Splits the dataset version into `dir`/train.<ext> and `dir`/holdout.<ext>:
 * `percent` of the rows (by content, salted with `salt`) go to the holdout.
 */
export async function splitDatasetVersion(dsv: LedgerRecord<'DatasetVersion'>, objects: ObjectReader, options: { dir: string; percent: number; salt: string }): Promise<Split> {
  const format = snapshotFormat(dsv.data.format);
  const train = new LineFile(path.join(options.dir, `train.${format}`));
  const holdout = new LineFile(path.join(options.dir, `holdout.${format}`));
  let written = false;
  try {
    if (format === 'jsonl') {
      await forEachDatasetRecord(dsv, objects, (record) => (inHoldout(record, options.percent, options.salt) ? holdout : train).line(jsonLine(record)));
    } else {
      const delimiter = format === 'tsv' ? '\t' : ',';
      const { ref, file } = locate(dsv);
      const opened = await objects.open(ref);
      if (!opened) throw new DatasetParseError({ file }, 'the object version no longer exists');
      let header: string[] = [];
      await forEachDelimitedRow(
        opened.body,
        { file, delimiter },
        (h) => {
          header = h;
          const text = h.map((c) => delimitedField(c, delimiter)).join(delimiter);
          train.line(text, false);
          holdout.line(text, false);
        },
        (cells) => {
          const record = Object.fromEntries(header.map((name, i) => [name, cells[i]]));
          (inHoldout(record, options.percent, options.salt) ? holdout : train).line(cells.map((c) => delimitedField(c, delimiter)).join(delimiter));
        },
      );
    }
    written = true;
  } finally {
    if (!written) {
      train.close();
      holdout.close();
    }
  }
  return { format, train: train.close(), holdout: holdout.close() };
}
