import { Readable } from 'node:stream';
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer } from 'hyparquet';
import Papa from 'papaparse';
import { headerProblem } from '../dataset-format';
import { DatasetParseError } from '../errors';
import { Utf8StreamValidator } from '../utf8';
import { DatasetProfile, type ProfileOptions } from './dataset-profile';

/*
 * One streaming pass over a dataset file into a DatasetProfile. Memory holds one
 * chunk (or one Parquet row group) plus the sketches, whatever the file size.
 * The first malformed row stops the pass with a DatasetParseError naming the
 * file, the row (record) and, where it applies, the column.
 */

export interface ReadOptions extends ProfileOptions {
  /** The file's name, for error messages. */
  readonly file: string;
}

/** UTF-8 text chunks from bytes; invalid UTF-8 stops with the byte offset. */
async function* utf8Text(source: AsyncIterable<Uint8Array>, file: string): AsyncGenerator<string> {
  const validator = new Utf8StreamValidator();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  for await (const chunk of source) {
    validator.push(chunk);
    const bad = validator.failed;
    if (bad) throw new DatasetParseError({ file, byteOffset: bad.offset }, `not valid UTF-8 (${bad.reason})`);
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const end = validator.end();
  if (!end.valid) throw new DatasetParseError({ file, byteOffset: end.offset }, `not valid UTF-8 (${end.reason})`);
  const rest = decoder.decode();
  if (rest) yield rest;
}

/** Profiles CSV or TSV: the first row is the header; every row must have as many fields. */
export async function profileDelimited(source: AsyncIterable<Uint8Array>, options: ReadOptions & { delimiter?: ',' | '\t' }): Promise<DatasetProfile> {
  const profile = new DatasetProfile(options.delimiter === '\t' ? 'tsv' : 'csv', options);
  const { file } = options;
  let header: string[] | undefined;
  let columns: ReturnType<DatasetProfile['column']>[] = [];
  let row = 0;
  let failure: Error | undefined;

  await new Promise<void>((resolve, reject) => {
    const input = Readable.from(utf8Text(source, file));
    input.on('error', (err) => {
      failure ??= err;
    });
    Papa.parse<string[]>(input as unknown as File, {
      delimiter: options.delimiter ?? ',',
      skipEmptyLines: true,
      step: (results, parser) => {
        row++;
        const error = results.errors[0];
        if (error) {
          failure ??= new DatasetParseError({ file, row }, `${error.message} (${error.code})`);
          parser.abort();
          return;
        }
        const cells = results.data;
        if (!header) {
          const problem = headerProblem(cells);
          if (problem) {
            failure ??= new DatasetParseError({ file, row }, `header: ${problem}`);
            parser.abort();
            return;
          }
          header = cells;
          columns = header.map((name) => profile.column(name));
          return;
        }
        if (cells.length !== header.length) {
          const column = cells.length > header.length ? `(extra field ${header.length + 1})` : header[cells.length]!;
          failure ??= new DatasetParseError({ file, row, column }, `expected ${header.length} fields (as the header), found ${cells.length}`);
          parser.abort();
          return;
        }
        profile.addTextRow(columns, cells);
      },
      complete: () => (failure ? reject(failure) : resolve()),
      error: (err: Error) => reject(failure ?? new DatasetParseError({ file, row }, err.message, { cause: err })),
    });
  });
  if (!header) throw new DatasetParseError({ file, row: 1 }, 'no header row (the file is empty or blank)');
  return profile;
}

/** Profiles JSON Lines: every non-blank line must be a JSON object. */
export async function profileJsonLines(source: AsyncIterable<Uint8Array>, options: ReadOptions): Promise<DatasetProfile> {
  const profile = new DatasetProfile('jsonl', options);
  let carry = '';
  let line = 0;
  const take = (text: string): void => {
    line++;
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
    if (trimmed === '') return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new DatasetParseError({ file: options.file, row: line }, `invalid JSON (${(err as Error).message})`, { cause: err });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new DatasetParseError({ file: options.file, row: line }, `expected a JSON object, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
    }
    profile.addRecord(value as Record<string, unknown>);
  };
  for await (const text of utf8Text(source, options.file)) {
    const parts = (carry + text).split('\n');
    carry = parts.pop()!;
    for (const part of parts) take(part);
  }
  if (carry !== '') take(carry);
  return profile;
}

/** Profiles Parquet one row group at a time (uncompressed and Snappy pages; other codecs need hyparquet-compressors). */
export async function profileParquet(buffer: AsyncBuffer, options: ReadOptions): Promise<DatasetProfile> {
  const profile = new DatasetProfile('parquet', options);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new DatasetParseError({ file: options.file }, `not a readable Parquet file: ${(err as Error).message}`, { cause: err });
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let records: Record<string, unknown>[];
    try {
      records = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd });
    } catch (err) {
      throw new DatasetParseError({ file: options.file, row: rowStart + 1 }, `row group starting here cannot be read: ${(err as Error).message}`, { cause: err });
    }
    for (const r of records) profile.addRecord(r);
    rowStart = rowEnd;
  }
  return profile;
}
