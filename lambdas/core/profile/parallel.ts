import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import Papa from 'papaparse';
import { headerProblem } from '../dataset-format';
import { DatasetParseError, type DatasetLocation } from '../errors';
import { Utf8StreamValidator } from '../utf8';
import { DatasetProfile, mergeProfiles, type DatasetProfileState, type ProfileOptions } from './dataset-profile';
import { fieldCountError, parseJsonLine } from './readers';
import { firstRowEnd, NEWLINE, QUOTE } from './shards';

/*
 * One streaming pass over a CSV, TSV or JSON Lines file, profiled by several
 * worker threads. The main thread reads the stream once: it validates UTF-8,
 * cuts the bytes into blocks of whole rows (it tracks CSV quotes from the first
 * byte, so a cut is never inside a quoted value: no guessing, unlike byte-range
 * shards), numbers the rows, and hands blocks to the least busy worker (at most
 * two waiting per worker: memory stays flat). Each worker parses its blocks with
 * papaparse (or JSON.parse) into its own DatasetProfile; the profiles are
 * merged at the end. Errors keep the one-pass reader's messages and absolute
 * row numbers; when several blocks fail, the first row wins.
 *
 * Workers run this module: bundled (a Lambda), the bundle itself; under tsx, the
 * TypeScript source through tsx's loader.
 */

export interface ParallelProfileOptions extends ProfileOptions {
  readonly file: string;
  readonly format: 'csv' | 'tsv' | 'jsonl';
  /** Worker threads. */
  readonly workers: number;
  /** Bytes per block (a block ends at the last row boundary once this many are buffered). @default 4 MiB */
  readonly blockBytes?: number;
  /** A row longer than this (an unterminated quote, usually) stops the pass with an error. @default 64 MiB */
  readonly maxRowBytes?: number;
  /** Heap limits of each worker, in MiB: a small young generation keeps memory flat. @default { young: 16, old: 512 } */
  readonly workerHeapMb?: { readonly young: number; readonly old: number };
}

const ROLE = 'cdk-mlops:profile-worker';

interface WorkerInit {
  readonly role: typeof ROLE;
  readonly heap: { readonly young: number; readonly old: number };
  readonly format: 'csv' | 'tsv' | 'jsonl';
  readonly file: string;
  readonly header: readonly string[] | null;
  /** The row separator, as papaparse guesses it for the one-pass reader: the header's line ending. */
  readonly newline: '\n' | '\r\n';
  readonly options: ProfileOptions;
}

type ToWorker = { readonly type: 'block'; readonly bytes: Uint8Array; readonly firstRow: number } | { readonly type: 'finish' };
type FromWorker =
  | { readonly type: 'done' }
  | { readonly type: 'failed'; readonly location: DatasetLocation; readonly detail: string }
  | { readonly type: 'profile'; readonly profile: DatasetProfileState };

/** Profiles `source` with `options.workers` worker threads; the result equals the one-pass profile's (merged). */
export async function profileInParallel(source: AsyncIterable<Uint8Array>, options: ParallelProfileOptions): Promise<DatasetProfile> {
  const { file, format } = options;
  const quoted = format !== 'jsonl';
  const blockBytes = options.blockBytes ?? 4 * 1024 * 1024;
  const maxRowBytes = options.maxRowBytes ?? 64 * 1024 * 1024;
  const validator = new Utf8StreamValidator();
  let buffer = new Uint8Array(blockBytes * 2);
  let length = 0; // bytes in buffer
  let scanned = 0; // bytes of buffer already scanned for boundaries
  let inQuotes = false;
  let lastBoundary = -1; // index in buffer of the last row-ending newline
  let rowsInBuffer = 0; // rows ending at or before lastBoundary
  let rowsBeforeBuffer = 0; // rows (lines, for JSON Lines) before the buffer's first byte
  let lineStart = 0; // start of the current line in buffer (to skip blank lines)
  let lineHasContent = false;
  let header: string[] | null = null;
  let newline: '\n' | '\r\n' = '\n';
  let pool: WorkerPool | undefined;

  // Finds row boundaries with native byte searches (memchr), not a loop per byte.
  const scan = (): void => {
    const view = Buffer.from(buffer.buffer, buffer.byteOffset, length);
    let i = scanned;
    let nextQuote = quoted ? view.indexOf(QUOTE, i) : -1;
    while (i < length) {
      const nl = view.indexOf(NEWLINE, i);
      if (inQuotes) {
        // inside a quoted value: only its closing quote matters
        if (nextQuote < 0) break;
        inQuotes = false;
        lineHasContent = true;
        i = nextQuote + 1;
        nextQuote = view.indexOf(QUOTE, i);
        continue;
      }
      if (nextQuote >= 0 && (nl < 0 || nextQuote < nl)) {
        inQuotes = true;
        lineHasContent = true;
        i = nextQuote + 1;
        nextQuote = view.indexOf(QUOTE, i);
        continue;
      }
      if (nl < 0) {
        if (length > i && !(length - i === 1 && view[i] === 0x0d)) lineHasContent = true;
        break;
      }
      // a row boundary; CSV/TSV rows are counted as papaparse counts them (blank lines skipped), JSON Lines count every line
      if (nl > i && !(nl - i === 1 && view[i] === 0x0d)) lineHasContent = true;
      if (lineHasContent || !quoted) rowsInBuffer++;
      lastBoundary = nl;
      lineStart = nl + 1;
      lineHasContent = false;
      i = nl + 1;
    }
    scanned = length;
  };

  /** Hands buffer[0, end) (whole rows) on and keeps the rest. */
  const cut = async (end: number, rows: number): Promise<void> => {
    const block = buffer.slice(0, end);
    const firstRow = rowsBeforeBuffer + 1;
    buffer.copyWithin(0, end, length);
    length -= end;
    scanned -= end;
    lastBoundary = -1;
    lineStart -= end;
    rowsBeforeBuffer += rows;
    rowsInBuffer = 0;
    pool ??= startPool(options, header, newline);
    await pool.send(block, firstRow);
  };

  try {
    for await (const chunk of source) {
      validator.push(chunk);
      const bad = validator.failed;
      if (bad) throw new DatasetParseError({ file, byteOffset: bad.offset }, `not valid UTF-8 (${bad.reason})`);
      if (length + chunk.length > buffer.length) {
        const grown = new Uint8Array(Math.max(buffer.length * 2, length + chunk.length));
        grown.set(buffer.subarray(0, length));
        buffer = grown;
      }
      buffer.set(chunk, length);
      length += chunk.length;
      scan();
      if (length - (lastBoundary + 1) > maxRowBytes) {
        throw new DatasetParseError({ file, row: rowsBeforeBuffer + rowsInBuffer + 1 }, `a row longer than ${maxRowBytes} bytes${inQuotes ? ' (a quoted value is never closed)' : ''}`);
      }
      // CSV/TSV: the header (the first row) is parsed here; then blocks of about blockBytes
      if (header === null && quoted) {
        if (lastBoundary >= 0) cutAtFirstRow();
        if (header === null) continue;
      }
      if (lastBoundary >= 0 && length >= blockBytes) await cut(lastBoundary + 1, rowsInBuffer);
    }
    const end = validator.end();
    if (!end.valid) throw new DatasetParseError({ file, byteOffset: end.offset }, `not valid UTF-8 (${end.reason})`);
    if (lineStart < length && (lineHasContent || !quoted)) rowsInBuffer++; // a last row without a newline
    if (header === null && quoted) {
      if (length === 0 || !/\S/.test(new TextDecoder().decode(buffer.subarray(0, length)))) throw new DatasetParseError({ file, row: 1 }, 'no header row (the file is empty or blank)');
      cutAtFirstRow(true);
    }
    if (length > 0) await cut(length, rowsInBuffer);
    pool ??= startPool(options, header, newline);
    return await pool.finish(format);
  } finally {
    await pool?.terminate();
  }

  /** The first row is the header: cut it off alone (re-scanning for its end). */
  function cutAtFirstRow(atEof = false): void {
    const found = firstRowEnd(buffer, length);
    const end = found >= 0 ? found : atEof ? length : -1;
    if (end < 0) return;
    const headerBlock = buffer.slice(0, end);
    buffer.copyWithin(0, end, length);
    length -= end;
    scanned = 0;
    inQuotes = false;
    lastBoundary = -1;
    lineStart = 0;
    lineHasContent = false;
    rowsInBuffer = 0;
    rowsBeforeBuffer = 1;
    header = parseHeader(headerBlock, file);
    newline = headerBlock.length > 1 && headerBlock[headerBlock.length - 2] === 0x0d ? '\r\n' : '\n';
    pool = startPool(options, header, newline);
    scan();
  }
}

function parseHeader(bytes: Uint8Array, file: string): string[] {
  const text = new TextDecoder('utf-8', { ignoreBOM: false }).decode(bytes);
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: true });
  const error = parsed.errors[0];
  if (error) throw new DatasetParseError({ file, row: 1 }, `${error.message} (${error.code})`);
  const cells = parsed.data[0] ?? [];
  const problem = headerProblem(cells);
  if (problem) throw new DatasetParseError({ file, row: 1 }, `header: ${problem}`);
  return cells;
}

interface WorkerPool {
  send(bytes: Uint8Array, firstRow: number): Promise<void>;
  finish(format: string): Promise<DatasetProfile>;
  terminate(): Promise<void>;
}

function startPool(options: ParallelProfileOptions, header: readonly string[] | null, newline: '\n' | '\r\n'): WorkerPool {
  const init: WorkerInit = { role: ROLE, heap: options.workerHeapMb ?? { young: 16, old: 512 }, format: options.format, file: options.file, header, newline, options: { missingTokens: options.missingTokens, frequentCapacity: options.frequentCapacity } };
  const workers = Array.from({ length: Math.max(1, options.workers) }, () => spawn(init));
  const pending = workers.map(() => 0);
  const failures: { location: DatasetLocation; detail: string }[] = [];
  let crash: Error | undefined;
  let wake: (() => void) | undefined;
  const profiles: (DatasetProfileState | undefined)[] = workers.map(() => undefined);
  workers.forEach((w, i) => {
    w.on('message', (m: FromWorker) => {
      if (m.type === 'done') pending[i]!--;
      else if (m.type === 'failed') {
        pending[i]!--;
        failures.push(m);
      } else profiles[i] = m.profile;
      wake?.();
    });
    w.on('error', (err) => {
      crash ??= err;
      wake?.();
    });
  });
  const until = async (ready: () => boolean): Promise<void> => {
    while (!ready()) {
      if (crash) throw crash;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (crash) throw crash;
  };
  const firstFailure = (): DatasetParseError | undefined => {
    if (failures.length === 0) return undefined;
    const f = [...failures].sort((a, b) => (a.location.row ?? 0) - (b.location.row ?? 0))[0]!;
    return new DatasetParseError(f.location, f.detail);
  };
  return {
    async send(bytes, firstRow) {
      await until(() => failures.length > 0 || pending.some((p) => p < 2));
      if (failures.length > 0) {
        await until(() => pending.every((p) => p === 0));
        throw firstFailure()!;
      }
      const i = pending.indexOf(Math.min(...pending));
      pending[i]!++;
      workers[i]!.postMessage({ type: 'block', bytes, firstRow } satisfies ToWorker, [bytes.buffer as ArrayBuffer]);
    },
    async finish(format) {
      await until(() => pending.every((p) => p === 0));
      const failure = firstFailure();
      if (failure) throw failure;
      for (const w of workers) w.postMessage({ type: 'finish' } satisfies ToWorker);
      await until(() => profiles.every((p) => p !== undefined));
      const merged = mergeProfiles(profiles as DatasetProfileState[]);
      return merged.format === format ? merged : DatasetProfile.fromJSON({ ...merged.toJSON(), format });
    },
    async terminate() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

function spawn(init: WorkerInit): Worker {
  // Blocks are small and the sketches bounded: a small young generation keeps memory flat.
  const resourceLimits = { maxYoungGenerationSizeMb: init.heap.young, maxOldGenerationSizeMb: init.heap.old };
  // Bundled, this module is part of the running .js file; from source, tsx loads it.
  if (__filename.endsWith('.ts')) {
    return new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)});`, { eval: true, workerData: init, resourceLimits });
  }
  return new Worker(__filename, { workerData: init, resourceLimits });
}

/** The worker side: parse blocks into a profile, then send it. */
function runWorker(init: WorkerInit): void {
  const profile = new DatasetProfile(init.format, init.options);
  const columns = init.header ? init.header.map((name) => profile.column(name)) : [];
  const decoder = new TextDecoder('utf-8');
  const delimiter = init.format === 'tsv' ? '\t' : ',';
  parentPort!.on('message', (m: ToWorker) => {
    if (m.type === 'finish') {
      parentPort!.postMessage({ type: 'profile', profile: profile.toJSON() } satisfies FromWorker);
      return;
    }
    try {
      const text = decoder.decode(m.bytes);
      if (init.format === 'jsonl') {
        const lines = text.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        lines.forEach((line, i) => {
          const record = parseJsonLine(m.firstRow === 1 && i === 0 ? line.replace(/^\uFEFF/, '') : line, init.file, m.firstRow + i);
          if (record) profile.addRecord(record);
        });
      } else {
        const header = init.header!;
        let row = m.firstRow - 1;
        let failure: DatasetParseError | undefined;
        // row by row (step): each row's strings die young, which keeps the worker's small heap cheap to collect
        Papa.parse<string[]>(text, {
          delimiter,
          newline: init.newline,
          skipEmptyLines: true,
          step: (results, parser) => {
            row++;
            const error = results.errors[0];
            const cells = results.data;
            if (error) failure = new DatasetParseError({ file: init.file, row }, `${error.message} (${error.code})`);
            else if (cells.length !== header.length) failure = fieldCountError(init.file, row, header, cells);
            else return profile.addTextRow(columns, cells);
            parser.abort();
          },
        });
        if (failure) throw failure;
      }
      parentPort!.postMessage({ type: 'done' } satisfies FromWorker);
    } catch (err) {
      if (!(err instanceof DatasetParseError)) throw err;
      parentPort!.postMessage({ type: 'failed', location: err.location, detail: err.detail } satisfies FromWorker);
    }
  });
}

if (!isMainThread && (workerData as Partial<WorkerInit> | null)?.role === ROLE) runWorker(workerData as WorkerInit);
