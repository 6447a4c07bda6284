import { Readable } from 'node:stream';
import { parquetMetadataAsync, type AsyncBuffer } from 'hyparquet';
import Papa from 'papaparse';
import { headerProblem, MAX_JSON_DEPTH, tooDeepField } from '../dataset-format';
import { DatasetParseError } from '../errors';
import { Utf8StreamValidator } from '../utf8';
import { DatasetProfile, type ProfileOptions } from './dataset-profile';
import { GuardedRowGroupDecoder, type DecodeBudget } from './parquet-decoder';

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

/** UTF-8 text chunks from bytes; invalid UTF-8, or a NUL byte (binary content, not text), stops with the byte offset. */
async function* utf8Text(source: AsyncIterable<Uint8Array>, file: string): AsyncGenerator<string> {
  const validator = new Utf8StreamValidator();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  let offset = 0;
  for await (const chunk of source) {
    validator.push(chunk);
    const bad = validator.failed;
    if (bad) throw new DatasetParseError({ file, byteOffset: bad.offset }, `not valid UTF-8 (${bad.reason})`);
    const nul = chunk.indexOf(0);
    if (nul >= 0) throw new DatasetParseError({ file, byteOffset: offset + nul }, 'a NUL byte: binary content, not text');
    offset += chunk.length;
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const end = validator.end();
  if (!end.valid) throw new DatasetParseError({ file, byteOffset: end.offset }, `not valid UTF-8 (${end.reason})`);
  const rest = decoder.decode();
  if (rest) yield rest;
}

/** A row with another number of fields than the header: the column is the first one missing (or the first extra). */
export function fieldCountError(file: string, row: number, header: readonly string[], cells: readonly string[]): DatasetParseError {
  const column = cells.length > header.length ? `(extra field ${header.length + 1})` : header[cells.length]!;
  return new DatasetParseError({ file, row, column }, `expected ${header.length} fields (as the header), found ${cells.length}`);
}

export interface DelimitedOptions {
  readonly file: string;
  /** @default ',' */
  readonly delimiter?: ',' | '\t';
}

/**
 * Streams CSV or TSV rows: the first row is the header (checked for blank and
 * duplicate names); every later row must have as many fields. `onRow` gets the
 * cells and the row number (the header is row 1).
 */
export async function forEachDelimitedRow(source: AsyncIterable<Uint8Array>, options: DelimitedOptions, onHeader: (header: string[]) => void, onRow: (cells: string[], row: number) => void): Promise<void> {
  const { file } = options;
  let header: string[] | undefined;
  let row = 0;
  let failure: Error | undefined;

  function abort(error: Error, parser: Papa.Parser): void {
    failure ??= error;
    parser.abort();
  }
  await new Promise<void>((resolve, reject) => {
    const input = Readable.from(utf8Text(source, file));
    input.on('error', (err) => {
      failure ??= err;
    });
    Papa.parse<string[]>(input as unknown as File, {
      delimiter: options.delimiter ?? ',',
      skipEmptyLines: true,
      // no closures per row: bundled with keepNames, each would cost a __name call
      step: (results, parser) => {
        row++;
        const error = results.errors[0];
        if (error) return abort(new DatasetParseError({ file, row }, `${error.message} (${error.code})`), parser);
        const cells = results.data;
        if (!header) {
          const problem = headerProblem(cells);
          if (problem) return abort(new DatasetParseError({ file, row }, `header: ${problem}`), parser);
          header = cells;
          try {
            onHeader(header);
          } catch (err) {
            abort(err as Error, parser);
          }
          return;
        }
        if (cells.length !== header.length) return abort(fieldCountError(file, row, header, cells), parser);
        try {
          onRow(cells, row);
        } catch (err) {
          abort(err as Error, parser);
        }
      },
      complete: () => (failure ? reject(failure) : resolve()),
      error: (err: Error) => reject(failure ?? new DatasetParseError({ file, row }, err.message, { cause: err })),
    });
  });
  if (!header) throw new DatasetParseError({ file, row: 1 }, 'no header row (the file is empty or blank)');
}

/** Profiles CSV or TSV (see forEachDelimitedRow for what is checked). */
export async function profileDelimited(source: AsyncIterable<Uint8Array>, options: ReadOptions & { delimiter?: ',' | '\t' }): Promise<DatasetProfile> {
  const profile = new DatasetProfile(options.delimiter === '\t' ? 'tsv' : 'csv', options);
  let columns: ReturnType<DatasetProfile['column']>[] = [];
  await forEachDelimitedRow(
    source,
    options,
    (header) => (columns = header.map((name) => profile.column(name))),
    (cells) => profile.addTextRow(columns, cells),
  );
  return profile;
}

/** One JSON Lines line as a record (undefined when blank); anything but a JSON object is an error naming the line. */
export function parseJsonLine(text: string, file: string, line: number): Record<string, unknown> | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    throw new DatasetParseError({ file, row: line }, `invalid JSON (${(err as Error).message})`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DatasetParseError({ file, row: line }, `expected a JSON object, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const deep = tooDeepField(value as Record<string, unknown>);
  if (deep !== undefined) throw new DatasetParseError({ file, row: line, column: deep }, `the value nests deeper than ${MAX_JSON_DEPTH} levels`);
  return value as Record<string, unknown>;
}

/** Streams JSON Lines records: every non-blank line must be a JSON object. `onRecord` gets it and its line number. */
export async function forEachJsonRecord(source: AsyncIterable<Uint8Array>, file: string, onRecord: (record: Record<string, unknown>, line: number) => void): Promise<void> {
  let carry = '';
  let line = 0;
  const take = (text: string): void => {
    line++;
    const record = parseJsonLine(line === 1 ? text.replace(/^\uFEFF/, '') : text, file, line);
    if (record) onRecord(record, line);
  };
  for await (const text of utf8Text(source, file)) {
    const parts = (carry + text).split('\n');
    carry = parts.pop()!;
    for (const part of parts) take(part);
  }
  if (carry !== '') take(carry);
}

/** Profiles JSON Lines. */
export async function profileJsonLines(source: AsyncIterable<Uint8Array>, options: ReadOptions): Promise<DatasetProfile> {
  const profile = new DatasetProfile('jsonl', options);
  await forEachJsonRecord(source, options.file, (record) => profile.addRecord(record));
  return profile;
}

/** Which rows of a Parquet file to read: whole row groups from `rowStart` (inclusive) to `rowEnd` (exclusive). */
export interface RowRange {
  readonly rowStart: number;
  readonly rowEnd: number;
}

/**
 * Streams Parquet records one row group at a time (uncompressed and Snappy
 * pages; other codecs need hyparquet-compressors), only the row groups inside
 * `rows` when it is given (a shard). Row groups are decoded in a worker thread
 * within `budget` (see parquet-decoder.ts): corrupted page data is refused
 * with the row group named, never left to run.
 */
export async function forEachParquetRecord(buffer: AsyncBuffer, file: string, onRecord: (record: Record<string, unknown>, row: number) => void, rows?: RowRange, budget?: DecodeBudget): Promise<void> {
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new DatasetParseError({ file }, `not a readable Parquet file: ${(err as Error).message}`, { cause: err });
  }
  const decoder = new GuardedRowGroupDecoder(buffer, metadata, budget);
  // the row groups to read, with their first row (0-based)
  const groups: { group: (typeof metadata.row_groups)[number]; rowStart: number; rowEnd: number }[] = [];
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    if (!rows || (rowStart >= rows.rowStart && rowEnd <= rows.rowEnd)) groups.push({ group, rowStart, rowEnd });
    rowStart = rowEnd;
  }
  const decode = (i: number): Promise<Record<string, unknown>[]> | undefined => {
    const g = groups[i];
    if (!g) return undefined;
    const p = decoder.decode(g.group, g.rowStart, g.rowEnd);
    p.catch(() => undefined); // a read-ahead that fails is reported when its turn comes (or not at all)
    return p;
  };
  try {
    let next = decode(0);
    for (let i = 0; i < groups.length; i++) {
      const { rowStart: first } = groups[i]!;
      let records: Record<string, unknown>[];
      try {
        records = await next!;
      } catch (err) {
        throw new DatasetParseError({ file, row: first + 1 }, `row group starting here cannot be read: ${(err as Error).message}`, { cause: err });
      }
      // the worker decodes the next row group while this one is read
      next = decode(i + 1);
      records.forEach((r, k) => onRecord(r, first + k + 1));
    }
  } finally {
    await decoder.close();
  }
}

/** Profiles Parquet (the row groups in `rows` only, when given). */
export async function profileParquet(buffer: AsyncBuffer, options: ReadOptions, rows?: RowRange, budget?: DecodeBudget): Promise<DatasetProfile> {
  const profile = new DatasetProfile('parquet', options);
  await forEachParquetRecord(buffer, options.file, (record) => profile.addRecord(record), rows, budget);
  return profile;
}
