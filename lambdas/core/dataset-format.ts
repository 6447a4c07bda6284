import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { parse as parseCsv } from 'csv-parse/sync';
import type { FileMetaData } from 'hyparquet';
import { parquetSchema } from 'hyparquet';
import { UnreadableDatasetError } from './errors';

/** Dataset file formats the kit reads. */
export type DatasetFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

export const SUPPORTED_FORMATS: readonly DatasetFormat[] = ['csv', 'tsv', 'jsonl', 'parquet'];

const EXTENSIONS: Record<string, DatasetFormat> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
};

const CONTENT_TYPES: Record<string, DatasetFormat> = {
  'text/csv': 'csv',
  'text/tab-separated-values': 'tsv',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/x-jsonlines': 'jsonl',
  'application/vnd.apache.parquet': 'parquet',
};

/** Text formats must be UTF-8. */
export function isTextFormat(format: DatasetFormat): boolean {
  return format !== 'parquet';
}

/**
 * The format of an object, from its key's extension first (what uploaders
 * control most reliably), then its Content-Type.
 */
export function detectFormat(key: string, contentType?: string): DatasetFormat | undefined {
  const lower = key.toLowerCase();
  const dot = lower.lastIndexOf('.');
  const byExtension = dot >= 0 ? EXTENSIONS[lower.slice(dot)] : undefined;
  if (byExtension) return byExtension;
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType ? CONTENT_TYPES[mediaType] : undefined;
}

/** One column as the file declares it. */
export interface ColumnSchema {
  readonly name: string;
  /** Declared type: `string` for CSV headers, JSON types for JSON Lines, Parquet's logical or physical type. */
  readonly type: string;
}

/** A file's schema and a stable hash of it. */
export interface SchemaFingerprint {
  readonly format: DatasetFormat;
  readonly columns: readonly ColumnSchema[];
  /** SHA-256 of the canonical JSON of `{format, columns}`: equal schemas, equal fingerprints. */
  readonly fingerprint: string;
  /** Row count, where the format declares it (Parquet). */
  readonly numRows?: number;
  /** How the schema was read, for readers of the record. */
  readonly source: string;
}

function fingerprintOf(format: DatasetFormat, columns: readonly ColumnSchema[], extra: { numRows?: number; source: string }): SchemaFingerprint {
  const fingerprint = createHash('sha256').update(canonicalize({ format, columns }) ?? '').digest('hex');
  return { format, columns, fingerprint, ...extra };
}

/**
 * The header of a CSV/TSV file, read from its first bytes.
 * @throws UnreadableDatasetError naming the column when the header is empty, has blank or duplicate names, or does not end within `head`.
 */
export function delimitedSchema(format: 'csv' | 'tsv', head: Buffer, headIsWholeFile: boolean): SchemaFingerprint {
  const text = head.toString('utf8');
  const newline = text.search(/\r?\n/);
  if (newline < 0 && !headIsWholeFile) {
    throw new UnreadableDatasetError(`header row: no line end in the first ${head.length} bytes`);
  }
  let rows: string[][];
  try {
    // The header may contain quoted delimiters, so parse it properly, but only the first record.
    rows = parseCsv(text, { bom: true, delimiter: format === 'tsv' ? '\t' : ',', to: 1, relax_column_count: true, skip_empty_lines: false });
  } catch (err) {
    throw new UnreadableDatasetError(`header row: ${(err as Error).message}`, { cause: err });
  }
  const header = rows[0];
  if (!header || header.length === 0 || (header.length === 1 && header[0]!.trim() === '')) {
    throw new UnreadableDatasetError('header row: no column names');
  }
  const problem = headerProblem(header);
  if (problem) throw new UnreadableDatasetError(`header row, ${problem}`);
  return fingerprintOf(format, header.map((name) => ({ name, type: 'string' })), { source: 'header row' });
}

/** What is wrong with a header row (blank or duplicate names), or undefined. */
export function headerProblem(header: readonly string[]): string | undefined {
  const seen = new Map<string, number>();
  for (let i = 0; i < header.length; i++) {
    const name = header[i]!;
    if (name.trim() === '') return `column ${i + 1}: blank column name`;
    const first = seen.get(name);
    if (first !== undefined) return `column ${i + 1}: duplicate column name '${name}' (also column ${first + 1})`;
    seen.set(name, i);
  }
  return undefined;
}

/** How many JSON Lines records the schema is sampled from. */
export const JSONL_SAMPLE_LINES = 100;

/**
 * The keys of a JSON Lines file: the union over its first complete lines (at
 * most {@link JSONL_SAMPLE_LINES}), each key typed by the JSON types seen.
 * @throws UnreadableDatasetError naming the line when a sampled line is not a JSON object.
 */
export function jsonLinesSchema(head: Buffer, headIsWholeFile: boolean): SchemaFingerprint {
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const lines = text.split('\n');
  if (!headIsWholeFile) lines.pop(); // the last line may be cut
  const types = new Map<string, Set<string>>();
  let sampled = 0;
  for (let i = 0; i < lines.length && sampled < JSONL_SAMPLE_LINES; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new UnreadableDatasetError(`line ${i + 1}: invalid JSON (${(err as Error).message})`, { cause: err });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UnreadableDatasetError(`line ${i + 1}: expected a JSON object, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
    }
    const deep = tooDeepField(value as Record<string, unknown>);
    if (deep !== undefined) throw new UnreadableDatasetError(`line ${i + 1}, field '${deep}': the value nests deeper than ${MAX_JSON_DEPTH} levels`);
    for (const [key, v] of Object.entries(value)) {
      const set = types.get(key) ?? new Set<string>();
      set.add(v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
      types.set(key, set);
    }
    sampled++;
  }
  if (sampled === 0) {
    throw new UnreadableDatasetError(headIsWholeFile ? 'no JSON records (only blank lines)' : `line 1: no complete line in the first ${head.length} bytes`);
  }
  const columns = [...types.keys()].sort().map((name) => ({ name, type: [...types.get(name)!].sort().join('|') }));
  return fingerprintOf('jsonl', columns, { source: `first ${sampled} line(s)` });
}

/** The leaf columns of a Parquet file's footer schema, with dotted paths for nested fields. */
export function parquetSchemaFingerprint(metadata: FileMetaData): SchemaFingerprint {
  const columns: ColumnSchema[] = [];
  const visit = (node: ReturnType<typeof parquetSchema>): void => {
    if (node.children.length === 0) {
      const e = node.element;
      const logical = e.logical_type?.type;
      columns.push({ name: node.path.join('.'), type: String(logical ?? e.converted_type ?? e.type ?? 'UNKNOWN') });
    }
    node.children.forEach(visit);
  };
  visit(parquetSchema(metadata));
  return fingerprintOf('parquet', columns, { numRows: Number(metadata.num_rows), source: 'Parquet footer' });
}

/**
 * How deep a JSON Lines value may nest (objects and arrays inside a record's field). Deeper
 * values are refused, naming the line and the field: past a few thousand levels V8's
 * JSON.stringify, and so the profilers, exhaust the stack.
 */
export const MAX_JSON_DEPTH = 64;

/** The first field of a record whose value nests deeper than MAX_JSON_DEPTH (undefined: none). Iterative: no recursion. */
export function tooDeepField(record: Readonly<Record<string, unknown>>): string | undefined {
  for (const [key, value] of Object.entries(record)) {
    if (value === null || typeof value !== 'object') continue;
    const stack: [unknown, number][] = [[value, 1]];
    while (stack.length > 0) {
      const [v, depth] = stack.pop()!;
      if (depth > MAX_JSON_DEPTH) return key;
      for (const child of Array.isArray(v) ? v : Object.values(v as object)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

/** Magic numbers of binary formats a text upload must not be. */
const BINARY_MAGIC: readonly { readonly name: string; readonly bytes: readonly number[] }[] = [
  { name: 'Parquet (it starts with PAR1)', bytes: [0x50, 0x41, 0x52, 0x31] },
  { name: 'gzip (it starts with 1f 8b)', bytes: [0x1f, 0x8b] },
  { name: 'a ZIP archive (it starts with PK 03 04)', bytes: [0x50, 0x4b, 0x03, 0x04] },
];

/**
 * What the first bytes of a file say against the format its name or Content-Type declared,
 * or undefined when they agree: a text format must not start like a binary format nor hold a
 * NUL byte; Parquet must start with its magic.
 */
export function contentProblem(format: DatasetFormat, head: Uint8Array): string | undefined {
  const startsWith = (bytes: readonly number[]) => bytes.every((b, i) => head[i] === b);
  if (format === 'parquet') return head.length > 0 && !startsWith(BINARY_MAGIC[0]!.bytes) ? 'content is not Parquet: it does not start with the PAR1 magic' : undefined;
  const binary = BINARY_MAGIC.find((m) => startsWith(m.bytes));
  if (binary) return `content is ${binary.name}, not ${format} as its name or Content-Type says`;
  const nul = head.indexOf(0);
  return nul >= 0 ? `a NUL byte at byte ${nul}: binary content, not ${format} text` : undefined;
}
