import Papa from 'papaparse';
import { CdkMlopsError } from './errors';

/*
 * SageMaker data capture, read for the drift monitor. A SageMaker endpoint with
 * data capture writes JSON Lines under
 * `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`, one line per
 * captured invocation:
 *
 *   {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",  "data": "...", "encoding": "CSV"},
 *                    "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "...", "encoding": "CSV"}},
 *    "eventMetadata": {"eventId": "...", "inferenceTime": "2026-12-01T10:15:00Z"}, "eventVersion": "0"}
 *
 * `encoding` is CSV or JSON for the content types the endpoint config lists
 * (SageMakerEndpoint lists text/csv and application/json), else BASE64 of the
 * raw body. The body is the container's own format; these are read:
 *
 * requests (rows of the model signature's features)
 *   - text/csv: one row per line, the features in signature order, no header
 *     (a first line that is exactly the feature names is skipped);
 *   - application/json: {"instances": [row, ...]} (SageMaker's and TF Serving's
 *     convention), {"rows": [...]} or {"columns": {...}} (the OnnxEndpoint's), a
 *     list of rows, or one row; a row is an object by feature name, a list in
 *     signature order, or {"features": [...]} (SageMaker's JSON for its
 *     built-in algorithms);
 *   - application/jsonlines (or x-ndjson): one row per line.
 * responses (one score per row, the ModelVersion's `score:mean` kind of value)
 *   - text/csv: one number per line, or a batch's numbers on one line,
 *     comma-separated (SageMaker's built-in XGBoost);
 *   - JSON: {"predictions": [p, ...]}, a list, or one number; JSON Lines: one p a line;
 *     p is a number, a one-number list, or an object with a numeric "score".
 *
 * An invocation the reader cannot use is counted with the first reason, never
 * guessed at: a body in another format, a row with another number of fields,
 * no inference time. When the response's scores do not pair one to one with the
 * request's rows, the rows still count for the features, without scores.
 */

/** One captured row: text cells in feature order (a CSV request) or values by feature name. */
export type CapturedRow =
  | { readonly cells: readonly string[]; readonly prediction?: number }
  | { readonly values: Readonly<Record<string, unknown>>; readonly prediction?: number };

export interface CapturedInvocation {
  /** The invocation's time (eventMetadata.inferenceTime), ms. */
  readonly time: number;
  readonly rows: readonly CapturedRow[];
  /** The response had scores, but not one per row (the rows carry none). */
  readonly unpairedScores: boolean;
}

/** Why a capture line could not be read. */
export class CaptureLineError extends CdkMlopsError {}

interface CapturePayload {
  readonly observedContentType?: unknown;
  readonly data?: unknown;
  readonly encoding?: unknown;
}

type BodyKind = 'csv' | 'json' | 'jsonl';

function bodyOf(payload: CapturePayload, what: string): { kind: BodyKind; text: string } {
  const contentType = typeof payload.observedContentType === 'string' ? payload.observedContentType : '';
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  if (typeof payload.data !== 'string') throw new CaptureLineError(`${what} has no data`);
  const encoding = payload.encoding;
  let kind: BodyKind | undefined;
  if (media === 'text/csv') kind = 'csv';
  else if (media === 'application/jsonlines' || media === 'application/jsonl' || media === 'application/x-ndjson') kind = 'jsonl';
  else if (media === 'application/json' || media.endsWith('+json')) kind = 'json';
  else if (encoding === 'CSV') kind = 'csv';
  else if (encoding === 'JSON') kind = 'json';
  if (!kind) throw new CaptureLineError(`${what} is '${contentType || 'of no content type'}', neither CSV nor JSON`);
  if (encoding === 'BASE64') return { kind, text: Buffer.from(payload.data, 'base64').toString('utf8') };
  if (encoding === 'CSV' || encoding === 'JSON') return { kind, text: payload.data };
  throw new CaptureLineError(`${what} has encoding '${String(encoding)}' (expected CSV, JSON or BASE64)`);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CaptureLineError(`${what} is not JSON (${(err as Error).message})`);
  }
}

function csvLines(text: string, what: string): string[][] {
  const parsed = Papa.parse<string[]>(text.trim(), { delimiter: ',', skipEmptyLines: true });
  const error = parsed.errors[0];
  if (error) throw new CaptureLineError(`${what}: CSV row ${(error.row ?? 0) + 1}: ${error.message}`);
  return parsed.data;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isScalar = (v: unknown): boolean => v === null || typeof v !== 'object';

/** One JSON row as values by feature name. */
function jsonRow(row: unknown, features: readonly string[], at: string): Record<string, unknown> {
  const list = isObject(row) && Array.isArray(row.features) ? (row.features as unknown[]) : row;
  if (Array.isArray(list)) {
    if (list.length !== features.length) throw new CaptureLineError(`${at} has ${list.length} values; the model has ${features.length} features (${features.join(', ')})`);
    return Object.fromEntries(features.map((f, i) => [f, list[i]]));
  }
  if (!isObject(list)) throw new CaptureLineError(`${at} is ${list === null ? 'null' : typeof list}, not a row (an object, a list or {"features": [...]})`);
  if (!features.some((f) => f in list)) throw new CaptureLineError(`${at} names none of the model's features (${features.join(', ')})`);
  return list;
}

/** The request body's rows. */
function requestRows(body: { kind: BodyKind; text: string }, features: readonly string[]): CapturedRow[] {
  if (body.kind === 'csv') {
    const lines = csvLines(body.text, 'the request');
    if (lines.length > 0 && lines[0]!.length === features.length && lines[0]!.every((c, i) => c.trim() === features[i])) lines.shift();
    return lines.map((cells, i) => {
      if (cells.length !== features.length) throw new CaptureLineError(`request row ${i + 1} has ${cells.length} fields; the model has ${features.length} features (${features.join(', ')})`);
      return { cells };
    });
  }
  if (body.kind === 'jsonl') {
    return body.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => ({ values: jsonRow(parseJson(l, `request line ${i + 1}`), features, `request line ${i + 1}`) }));
  }
  const value = parseJson(body.text, 'the request');
  let rows: unknown[];
  if (isObject(value) && Array.isArray(value.instances)) rows = value.instances;
  else if (isObject(value) && Array.isArray(value.rows)) rows = value.rows;
  else if (isObject(value) && isObject(value.columns)) {
    const columns = value.columns;
    const lists = Object.values(columns);
    if (!lists.every((l) => Array.isArray(l) && l.length === (lists[0] as unknown[]).length)) throw new CaptureLineError('the request\'s "columns" are not lists of one length');
    const n = lists.length === 0 ? 0 : (lists[0] as unknown[]).length;
    rows = Array.from({ length: n }, (_, i) => Object.fromEntries(Object.entries(columns).map(([k, l]) => [k, (l as unknown[])[i]])));
  } else if (Array.isArray(value) && value.length > 0 && value.every(isScalar)) rows = [value];
  else if (Array.isArray(value)) rows = value;
  else rows = [value];
  return rows.map((r, i) => ({ values: jsonRow(r, features, `request row ${i + 1}`) }));
}

/** One score: a number, a one-number list, or {"score": number}; undefined when it is none of these. */
function score(p: unknown): number | undefined {
  const v: unknown = Array.isArray(p) && p.length === 1 ? (p as unknown[])[0] : isObject(p) ? p.score : p;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** A CSV cell as a score; undefined when it is not a finite number. */
function csvScore(cell: string): number | undefined {
  const n = cell.trim() === '' ? Number.NaN : Number(cell);
  return Number.isFinite(n) ? n : undefined;
}

/** The response body's scores for `rows` rows, in row order; undefined when it holds no reading of them. */
function responseScores(body: { kind: BodyKind; text: string }, rows: number): (number | undefined)[] | undefined {
  if (body.kind === 'csv') {
    const lines = csvLines(body.text, 'the response');
    // SageMaker's XGBoost answers a batch on one line, comma-separated; others one score a line
    if (lines.length === 1 && rows > 1 && lines[0]!.length === rows) return lines[0]!.map(csvScore);
    return lines.map((cells) => (cells.length === 1 ? csvScore(cells[0]!) : undefined));
  }
  if (body.kind === 'jsonl') {
    return body.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        try {
          return score(JSON.parse(l));
        } catch {
          return undefined;
        }
      });
  }
  let value: unknown;
  try {
    value = JSON.parse(body.text);
  } catch {
    return undefined;
  }
  const list = isObject(value) && Array.isArray(value.predictions) ? value.predictions : Array.isArray(value) ? value : [value];
  return list.map(score);
}

/**
 * One line of a SageMaker capture file: the invocation's time and its rows with
 * their scores. Throws CaptureLineError saying why a line cannot be read.
 */
export function parseSageMakerCaptureLine(line: string, features: readonly string[]): CapturedInvocation {
  const record = parseJson(line, 'the line');
  if (!isObject(record) || !isObject(record.captureData)) throw new CaptureLineError('not a SageMaker capture record (no "captureData")');
  const meta = isObject(record.eventMetadata) ? record.eventMetadata : {};
  const time = typeof meta.inferenceTime === 'string' ? Date.parse(meta.inferenceTime) : Number.NaN;
  if (Number.isNaN(time)) throw new CaptureLineError('no valid eventMetadata.inferenceTime');
  const input = record.captureData.endpointInput;
  if (!isObject(input)) throw new CaptureLineError('no endpointInput (the endpoint captures no requests)');
  const rows = requestRows(bodyOf(input, 'the request'), features);
  const output = record.captureData.endpointOutput;
  let scores: (number | undefined)[] | undefined;
  if (isObject(output)) {
    try {
      scores = responseScores(bodyOf(output, 'the response'), rows.length);
    } catch (err) {
      if (!(err instanceof CaptureLineError)) throw err; // an unreadable response still leaves the request's rows
    }
  }
  const paired = scores !== undefined && scores.length === rows.length && scores.every((s) => s !== undefined);
  return {
    time,
    rows: paired ? rows.map((r, i) => ({ ...r, prediction: scores![i]! })) : rows,
    unpairedScores: isObject(output) && !paired,
  };
}
