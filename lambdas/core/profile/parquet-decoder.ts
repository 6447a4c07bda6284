import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';
import { parquetSchema, type AsyncBuffer, type FileMetaData, type RowGroup } from 'hyparquet';

/*
 * Parquet row groups decoded in a worker thread with a time and memory budget.
 * Corrupted page data can make hyparquet's decoders run for hours: a page
 * header or an RLE run whose count was flipped to billions fills an array of
 * that length (seen with hyparquet 1.31-1.33), synchronously, so nothing in
 * the same thread can stop it. A worker can be terminated; the caller gets a
 * `RowGroupDecodeError` naming the budget, and the file is refused.
 */

/** A row group that could not be decoded within the budget (or crashed its worker). */
export class RowGroupDecodeError extends Error {
  override readonly name = 'RowGroupDecodeError';
}

export interface DecodeBudget {
  /** Wall time for one row group: `baseMs` plus `msPerMiB` per MiB of its compressed bytes. */
  readonly baseMs: number;
  readonly msPerMiB: number;
  /** The worker's heap limit (V8 old generation). */
  readonly heapMiB: number;
}

/**
 * The default budget: 30 s plus 2 s per compressed MiB (hyparquet decodes
 * tens of MiB a second, so a good row group never comes near it), and half the
 * function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, else a quarter of the
 * machine's) as heap. `CDK_MLOPS_PARQUET_BUDGET_MS` overrides the base (tests).
 */
export function defaultDecodeBudget(env: NodeJS.ProcessEnv = process.env): DecodeBudget {
  const lambdaMiB = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  const memoryMiB = Number.isFinite(lambdaMiB) && lambdaMiB > 0 ? lambdaMiB : totalmem() / 4 / 2 ** 20;
  const base = Number(env.CDK_MLOPS_PARQUET_BUDGET_MS);
  return { baseMs: Number.isFinite(base) && base > 0 ? base : 30_000, msPerMiB: 2_000, heapMiB: Math.max(128, Math.floor(memoryMiB / 2)) };
}

/** The file bytes a row group's column chunks span: [start, end). */
export function rowGroupRange(group: RowGroup, fileLength: number): [number, number] {
  let start = Infinity;
  let end = 0;
  for (const column of group.columns) {
    const meta = column.meta_data;
    if (!meta) throw new RowGroupDecodeError('a column chunk has no metadata');
    const first = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
    const size = Number(meta.total_compressed_size);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(size) || first < 0 || size < 0) throw new RowGroupDecodeError('a column chunk has an impossible offset or size');
    start = Math.min(start, first);
    end = Math.max(end, first + size);
  }
  if (group.columns.length === 0) return [0, 0];
  if (end > fileLength) throw new RowGroupDecodeError(`its column chunks end at byte ${end}, past the end of the file (${fileLength} bytes)`);
  return [start, end];
}

/*
 * The worker: loads hyparquet from the path the parent resolved (its own
 * bundle's copy in a Lambda: node_modules/hyparquet, shipped beside it), and
 * decodes the row groups it is sent over the bytes it is sent. It answers in
 * columns (typed arrays moved, not copied): cloning a row group's records as
 * objects cost more than decoding them.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const hyparquet = import(pathToFileURL(workerData.hyparquet).href);
async function decode({ id, bytes, offset, byteLength, metadata, rowStart, rowEnd }) {
  parentPort.postMessage({ id, started: true });
  try {
    const { parquetRead } = await hyparquet;
    const file = {
      byteLength,
      slice(start, end = byteLength) {
        if (start < offset || end > offset + bytes.byteLength) throw new Error('read outside the row group (bytes ' + start + '-' + end + ')');
        return bytes.slice(start - offset, end - offset);
      },
    };
    const chunks = [];
    const transfer = [];
    await parquetRead({ file, metadata, rowStart, rowEnd, onChunk: ({ columnName, columnData, rowStart: start }) => {
      if (ArrayBuffer.isView(columnData)) {
        // a typed array is copied out of the page it views, then moved
        const data = columnData.slice();
        transfer.push(data.buffer);
        chunks.push({ name: columnName, rowStart: start, data });
        return;
      }
      // strings repeat (categories): sent once each, with indices, unless most are distinct
      const words = new Map();
      const indices = new Int32Array(columnData.length);
      let strings = true;
      for (let i = 0; i < columnData.length && strings; i++) {
        const v = columnData[i];
        if (typeof v !== 'string') { strings = v === null || v === undefined; indices[i] = v === null ? -1 : -2; continue; }
        let k = words.get(v);
        if (k === undefined) { k = words.size; words.set(v, k); }
        indices[i] = k;
      }
      if (strings && words.size * 2 <= columnData.length) {
        transfer.push(indices.buffer);
        chunks.push({ name: columnName, rowStart: start, words: [...words.keys()], indices });
      } else {
        chunks.push({ name: columnName, rowStart: start, data: columnData });
      }
    } });
    parentPort.postMessage({ id, chunks }, transfer);
  } catch (err) {
    parentPort.postMessage({ id, error: err && err.message ? String(err.message) : String(err) });
  }
}
// one row group at a time, in the order sent (the next may be queued while one decodes)
let queue = Promise.resolve();
parentPort.on('message', (request) => { queue = queue.then(() => decode(request)); });
`;

/** Decoded values of one column for rows from `rowStart` on (absolute row numbers, 0-based). */
interface ColumnChunkData {
  readonly name: string;
  readonly rowStart: number;
  readonly data: ArrayLike<unknown>;
}

/** A string column sent as its distinct words and an index per row (-1 null, -2 undefined), back as values. */
function expandWords(chunk: ColumnChunkData & { words?: readonly string[]; indices?: Int32Array }): ColumnChunkData {
  const { words, indices } = chunk;
  if (!words || !indices) return chunk;
  const data: (string | null | undefined)[] = new Array<string | null | undefined>(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!;
    data[i] = k >= 0 ? words[k] : k === -1 ? null : undefined;
  }
  return { name: chunk.name, rowStart: chunk.rowStart, data };
}

/** The rows [rowStart, rowEnd) as records, keys in schema order: what parquetReadObjects returns. */
export function toRecords(columnNames: readonly string[], chunks: readonly ColumnChunkData[], rowStart: number, rowEnd: number): Record<string, unknown>[] {
  const count = Math.max(0, rowEnd - rowStart);
  const columns = columnNames.map((name): ArrayLike<unknown> => {
    const own = chunks.filter((c) => c.name === name).sort((a, b) => a.rowStart - b.rowStart);
    // one chunk from the first row on (the common case): read it in place
    if (own.length === 1 && own[0]!.rowStart === rowStart && own[0]!.data.length >= count) return own[0]!.data;
    const values: unknown[] = [];
    for (const chunk of own) {
      for (let row = Math.max(chunk.rowStart, rowStart); row < Math.min(chunk.rowStart + chunk.data.length, rowEnd); row++) values[row - rowStart] = chunk.data[row - chunk.rowStart];
    }
    values.length = count;
    return values;
  });
  const records: Record<string, unknown>[] = [];
  const width = columnNames.length;
  for (let i = 0; i < count; i++) {
    const record: Record<string, unknown> = {};
    for (let c = 0; c < width; c++) record[columnNames[c]!] = columns[c]![i];
    records.push(record);
  }
  return records;
}

function hyparquetPath(): string {
  return createRequire(__filename).resolve('hyparquet');
}

/**
 * Decodes row groups of one file in one worker thread (started on the first,
 * ended by `close`), in the order asked. A row group over its budget, or one
 * that runs the worker out of memory, ends the worker: it and every row group
 * still waiting fail with a RowGroupDecodeError.
 */
export class GuardedRowGroupDecoder {
  private worker?: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (chunks: ColumnChunkData[]) => void; reject: (err: Error) => void; readonly ms: number; timer?: NodeJS.Timeout }>();
  /** The top-level columns, in schema order (the order of a record's keys). */
  private readonly columnNames: readonly string[];

  constructor(
    private readonly buffer: AsyncBuffer,
    private readonly metadata: FileMetaData,
    private readonly budget: DecodeBudget = defaultDecodeBudget(),
  ) {
    this.columnNames = parquetSchema(metadata).children.map((c) => c.element.name);
  }

  /**
   * Decodes one row group. Calls may overlap (the worker queues them): the
   * next row group decodes while the caller reads this one. Each one's budget
   * starts when the worker starts it.
   */
  async decode(group: RowGroup, rowStart: number, rowEnd: number): Promise<Record<string, unknown>[]> {
    const [start, end] = rowGroupRange(group, this.buffer.byteLength);
    const bytes = await this.buffer.slice(start, end);
    const ms = this.budget.baseMs + (this.budget.msPerMiB * (end - start)) / 2 ** 20;
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const chunks = await new Promise<ColumnChunkData[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ms });
      // copied, not transferred: the buffer's slices may share memory it keeps
      worker.postMessage({ id, bytes, offset: start, byteLength: this.buffer.byteLength, metadata: this.metadata, rowStart, rowEnd });
    });
    return toRecords(this.columnNames, chunks, rowStart, rowEnd);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { hyparquet: hyparquetPath() }, resourceLimits: { maxOldGenerationSizeMb: this.budget.heapMiB } });
    worker.on('message', (m: { id: number; started?: true; chunks?: ColumnChunkData[]; error?: string }) => {
      const request = this.pending.get(m.id);
      if (!request) return;
      if (m.started) {
        request.timer = setTimeout(() => this.fail(new RowGroupDecodeError(`decoding did not finish within ${Math.round(request.ms / 1000)} s (corrupted page data?)`)), request.ms);
        return;
      }
      clearTimeout(request.timer);
      this.pending.delete(m.id);
      if (m.error !== undefined) request.reject(new RowGroupDecodeError(m.error));
      else request.resolve((m.chunks ?? []).map(expandWords));
    });
    worker.on('error', (err: NodeJS.ErrnoException) => this.fail(new RowGroupDecodeError(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `decoding needed more than ${this.budget.heapMiB} MiB (corrupted page data?)` : err.message)));
    worker.on('exit', (code) => this.fail(new RowGroupDecodeError(`the decoder stopped (exit ${code})`)));
    this.worker = worker;
    return worker;
  }

  /** Ends the worker; every row group asked for and not answered fails with `err`. */
  private fail(err: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(err);
    }
    this.pending.clear();
    if (worker) {
      worker.removeAllListeners();
      void worker.terminate();
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) {
      worker.removeAllListeners();
      await worker.terminate();
    }
  }
}
