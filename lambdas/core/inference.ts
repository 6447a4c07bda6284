import type { ColumnContract, DatasetContract } from './constraints';
import { CdkMlopsError } from './errors';
import { parseDecimal } from './numbers';
import type { ModelSignature } from './model-signature';

/*
 * An inference request, checked and laid out as the model's input, with no
 * model and no AWS attached (the ONNX endpoint's handler builds one parser per
 * model with `requestParser`).
 *
 *   { "rows":    [ { "education": 12, "gender": "female" }, ... ] }
 *   { "columns": { "education": [12, 16], "gender": ["female", "male"] } }
 *
 * Every feature of the model's signature must be present in every row;
 * other fields are ignored. A value must be what the signature and the dataset
 * contract allow: a finite number (or numeric text) for a numeric feature, one
 * of the signature's categories for a categorical one, and, with a contract,
 * the column's type, nullability, range and allowed values. Bad input is an
 * InferenceRequestError with an HTTP status and one message per field
 * (`rows[3].age: 150 is above the contract's max 100`), never a stack trace.
 */

/** How much one request may carry. */
export interface InferenceLimits {
  /** Rows per request. */
  readonly maxRows: number;
  /** Bytes of the (decoded) body. */
  readonly maxBodyBytes: number;
}

/** One thing wrong with a request: the field (`rows[3].age`, `columns.age[3]`, `body`) and what. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** A request the endpoint refuses: 400 (malformed), 413 (too large) or 415 (not JSON). */
export class InferenceRequestError extends CdkMlopsError {
  constructor(
    readonly statusCode: 400 | 413 | 415,
    readonly errors: readonly FieldError[],
  ) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
  }
}

/** A request laid out as the model's input. */
export interface EncodedRequest {
  /** Row-major [rows, width] float32 features, in signature order. */
  readonly features: Float32Array;
  readonly rows: number;
  readonly width: number;
  /** The feature values as sent, one object per row (built on demand: the capture). */
  records(): Record<string, unknown>[];
}

/** At most this many field errors are listed; the rest are counted. */
const MAX_ERRORS = 20;

type Encode = (raw: unknown) => number | string;

/** Checks and encodes requests for one model: `(body, contentType?) => EncodedRequest`. */
export type RequestParser = (body: string | undefined, contentType?: string) => EncodedRequest;

/**
 * A parser for one model's requests: the per-feature checks are built once
 * (a container serves one model), not per request.
 */
export function requestParser(signature: ModelSignature, limits: InferenceLimits, contract?: DatasetContract): RequestParser {
  const names = signature.features.map((f) => (typeof f === 'string' ? f : f.column));
  const encoders = signature.features.map((f, j) => encoderFor(names[j]!, typeof f === 'string' ? undefined : f.categories, contract?.columns[names[j]!]));
  return (body, contentType) => parse(body, contentType, names, encoders, limits);
}

/**
 * Checks a request body and encodes it. `body` is the decoded text (or
 * undefined); `contentType` is the request's, when it sent one.
 */
export function parseInferenceRequest(
  body: string | undefined,
  signature: ModelSignature,
  limits: InferenceLimits,
  options: { readonly contentType?: string; readonly contract?: DatasetContract } = {},
): EncodedRequest {
  return requestParser(signature, limits, options.contract)(body, options.contentType);
}

function parse(body: string | undefined, rawContentType: string | undefined, names: readonly string[], encoders: readonly Encode[], limits: InferenceLimits): EncodedRequest {
  const fail = (status: 400 | 413 | 415, field: string, message: string): never => {
    throw new InferenceRequestError(status, [{ field, message }]);
  };
  const contentType = rawContentType?.split(';')[0]?.trim().toLowerCase();
  if (contentType && contentType !== 'application/json' && !contentType.endsWith('+json')) fail(415, 'content-type', `'${rawContentType}' is not JSON; send application/json`);
  if (body === undefined || body.trim() === '') fail(400, 'body', 'expected a JSON object {"rows": [...]} or {"columns": {...}}');
  const bytes = Buffer.byteLength(body!, 'utf8');
  if (bytes > limits.maxBodyBytes) fail(413, 'body', `${bytes} bytes, over the limit of ${limits.maxBodyBytes}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body!);
  } catch (err) {
    fail(400, 'body', `not JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail(400, 'body', `expected a JSON object {"rows": [...]} or {"columns": {...}}, got ${describe(parsed)}`);
  const request = parsed as Record<string, unknown>;
  if ((request.rows === undefined) === (request.columns === undefined)) fail(400, 'body', 'expected exactly one of "rows" (a list of objects) or "columns" (an object of lists)');

  const width = names.length;
  const errors: FieldError[] = [];
  let extraErrors = 0;
  const note = (field: string, message: string): void => {
    if (errors.length < MAX_ERRORS) errors.push({ field, message });
    else extraErrors++;
  };

  let rows: number;
  let cell: (i: number, j: number) => unknown;
  let fieldOf: (i: number, j: number) => string;
  if (request.rows !== undefined) {
    const list = Array.isArray(request.rows) ? (request.rows as unknown[]) : fail(400, 'rows', `expected a list of row objects, got ${describe(request.rows)}`);
    rows = list.length;
    checkRowCount(rows, 'rows', limits);
    for (let i = 0; i < rows; i++) {
      const r = list[i];
      if (r === null || typeof r !== 'object' || Array.isArray(r)) note(`rows[${i}]`, `expected an object of column values, got ${describe(r)}`);
    }
    cell = (i, j) => (list[i] as Record<string, unknown>)[names[j]!];
    fieldOf = (i, j) => `rows[${i}].${names[j]}`;
  } else {
    const table = request.columns !== null && typeof request.columns === 'object' && !Array.isArray(request.columns) ? (request.columns as Record<string, unknown>) : fail(400, 'columns', `expected an object of column lists, got ${describe(request.columns)}`);
    let length: number | undefined;
    for (const name of names) {
      const values = table[name];
      if (values === undefined) note(`columns.${name}`, 'missing: the model needs this feature');
      else if (!Array.isArray(values)) note(`columns.${name}`, `expected a list of values, got ${describe(values)}`);
      else if (length === undefined) length = values.length;
      else if (values.length !== length) note(`columns.${name}`, `${values.length} values, but '${names[0]}' has ${length}: every column needs one value per row`);
    }
    rows = length ?? 0;
    if (errors.length === 0) checkRowCount(rows, 'columns', limits);
    cell = (i, j) => (table[names[j]!] as unknown[])[i];
    fieldOf = (i, j) => `columns.${names[j]}[${i}]`;
  }
  if (errors.length > 0) throw requestError(errors, extraErrors);

  const features = new Float32Array(rows * width);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < width; j++) {
      const out = encoders[j]!(cell(i, j));
      if (typeof out === 'number') features[i * width + j] = out;
      else note(fieldOf(i, j), out);
    }
    if (errors.length >= MAX_ERRORS) {
      // count what is left without listing it
      for (let k = i + 1; k < rows; k++) for (let j = 0; j < width; j++) if (typeof encoders[j]!(cell(k, j)) === 'string') extraErrors++;
      break;
    }
  }
  if (errors.length > 0) throw requestError(errors, extraErrors);
  const records = (): Record<string, unknown>[] => Array.from({ length: rows }, (_, i) => Object.fromEntries(names.map((name, j) => [name, cell(i, j)])));
  return { features, rows, width, records };
}

function checkRowCount(rows: number, field: string, limits: InferenceLimits): void {
  if (rows === 0) throw new InferenceRequestError(400, [{ field, message: 'expected at least one row' }]);
  if (rows > limits.maxRows) throw new InferenceRequestError(413, [{ field, message: `${rows} rows, over the limit of ${limits.maxRows} per request` }]);
}

function requestError(errors: FieldError[], extra: number): InferenceRequestError {
  return new InferenceRequestError(400, extra > 0 ? [...errors, { field: 'body', message: `and ${extra} more invalid value${extra > 1 ? 's' : ''}` }] : errors);
}

/** What a JSON value is, for messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'number' || typeof value === 'boolean' ? `${typeof value} ${String(value)}` : typeof value;
}

/**
 * A feature's encoder: the model input for a raw value, or the message saying
 * why the value cannot be used.
 */
function encoderFor(column: string, categories: Readonly<Record<string, number>> | undefined, contract: ColumnContract | undefined): Encode {
  const allowed = contract?.allowedValues ? new Set(contract.allowedValues.map(String)) : undefined;
  const nullable = contract?.nullable !== false;
  const missing = `missing value${nullable ? '' : " (the contract says it is never null)"}`;
  if (categories) {
    const known = Object.keys(categories);
    return (raw) => {
      if (raw === undefined || raw === null || raw === '') return missing;
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') return `expected one of ${known.join(', ')}, got ${describe(raw)}`;
      const key = String(raw);
      if (allowed && !allowed.has(key)) return `${JSON.stringify(raw)} is not one of the contract's allowed values (${[...allowed].join(', ')})`;
      return Object.hasOwn(categories, key) ? categories[key]! : `${JSON.stringify(raw)} is not one of the model's categories (${known.join(', ')})`;
    };
  }
  const integer = contract?.type === 'integer';
  const { min, max } = contract ?? {};
  return (raw) => {
    if (raw === undefined || raw === null || raw === '') return missing;
    let value: number;
    if (typeof raw === 'number') value = raw;
    else if (typeof raw === 'string' && raw.trim() !== '') {
      // decimal literals only: Number() would also take "0x0C", "0b1100", "0o14" as 12
      value = parseDecimal(raw);
      if (Number.isNaN(value)) return /^\s*[+-]?(infinity|nan)\s*$/i.test(raw) ? `${JSON.stringify(raw)} is not a finite number` : `${JSON.stringify(raw)} is not a decimal number`;
    } else return `expected a number, got ${describe(raw)}`;
    // a JSON number beyond a double's range (1e309) arrives as Infinity: say so, not "null"
    if (!Number.isFinite(value)) return typeof raw === 'number' ? `${raw} is not a finite number (a number beyond ±1.8e308, such as 1e309, overflows)` : `${JSON.stringify(raw)} is not a finite number`;
    if (integer && !Number.isInteger(value)) return `${value} is not a whole number (the contract's type for '${column}' is integer)`;
    if (min !== undefined && value < min) return `${value} is below the contract's min ${min}`;
    if (max !== undefined && value > max) return `${value} is above the contract's max ${max}`;
    if (allowed && !allowed.has(String(value))) return `${value} is not one of the contract's allowed values (${[...allowed].join(', ')})`;
    return value;
  };
}

/** What one batch of scores says, for the endpoint's metrics. */
export interface ScoreSummary {
  readonly count: number;
  readonly mean: number;
  /** Share of scores above the threshold. */
  readonly positiveRate: number;
}

export function summarizeScores(scores: ArrayLike<number>, threshold = 0.5): ScoreSummary {
  let sum = 0;
  let positive = 0;
  for (let i = 0; i < scores.length; i++) {
    sum += scores[i]!;
    if (scores[i]! > threshold) positive++;
  }
  const n = scores.length;
  return { count: n, mean: n > 0 ? sum / n : Number.NaN, positiveRate: n > 0 ? positive / n : Number.NaN };
}

/**
 * Whether a request is captured: a deterministic draw from the request id, so
 * the sampled share is the rate and a retried request is captured or not alike.
 */
export function sampled(requestId: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < requestId.length; i++) {
    h ^= requestId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // murmur3's finalizer: FNV-1a alone leaves similar ids (req-1, req-2) in similar places
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32 < rate;
}
