import { DatasetParseError, ModelError } from './errors';
import { parseDecimal } from './numbers';

/*
 * How a model's inputs and outputs map to dataset columns: the contract between
 * a ModelVersion and everything that scores with it (the bias gate, evaluation,
 * the ONNX endpoint). The model takes one float tensor [batch, features] and
 * returns a score per row; a categorical feature is mapped to numbers by its
 * `categories` table. Nothing here runs a model.
 */

export interface FeatureSpec {
  readonly column: string;
  /** Numbers for a categorical column's values (e.g. `{ female: 1, male: 0 }`); a value not listed is an error. */
  readonly categories?: Readonly<Record<string, number>>;
}

export interface ModelSignature {
  /** The ONNX graph input: a float tensor of shape [batch, features.length]. */
  readonly input: string;
  /** Dataset columns, in the order the model expects them. */
  readonly features: readonly (string | FeatureSpec)[];
  /** The ONNX graph output holding the scores: shape [batch], [batch, 1] or [batch, k]. */
  readonly output: string;
  /**
   * Which element of an output row is the positive class's score (for a [batch, k] output).
   * @default 0 for one score per row, 1 for [batch, 2] (class probabilities)
   */
  readonly outputIndex?: number;
}

/** A signature that cannot be used: the message names the field. */
export class InvalidModelSignatureError extends ModelError {}

/** Checks a signature; the message names the field. */
export function checkModelSignature(value: unknown): ModelSignature {
  const s = value as Partial<ModelSignature> | null;
  if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new InvalidModelSignatureError('signature: expected an object { input, features, output }');
  if (typeof s.input !== 'string' || s.input === '') throw new InvalidModelSignatureError('signature.input: expected the name of the model input');
  if (typeof s.output !== 'string' || s.output === '') throw new InvalidModelSignatureError('signature.output: expected the name of the model output');
  if (!Array.isArray(s.features) || s.features.length === 0) throw new InvalidModelSignatureError('signature.features: expected a non-empty list of columns');
  const seen = new Set<string>();
  s.features.forEach((f: unknown, i: number) => {
    const column = typeof f === 'string' ? f : (f as FeatureSpec | null)?.column;
    if (typeof column !== 'string' || column === '') throw new InvalidModelSignatureError(`signature.features[${i}]: expected a column name or { column, categories }`);
    if (seen.has(column)) throw new InvalidModelSignatureError(`signature.features[${i}]: column '${column}' is listed twice`);
    seen.add(column);
    if (typeof f === 'object' && f !== null && (f as FeatureSpec).categories !== undefined) {
      const cats = (f as FeatureSpec).categories;
      if (cats === null || typeof cats !== 'object' || Array.isArray(cats) || Object.keys(cats).length === 0) throw new InvalidModelSignatureError(`signature.features[${i}].categories: expected a non-empty { value: number } table`);
      for (const [k, v] of Object.entries(cats)) {
        if (!Number.isFinite(v)) throw new InvalidModelSignatureError(`signature.features[${i}].categories.${k}: expected a finite number`);
      }
    }
  });
  if (s.outputIndex !== undefined && (!Number.isInteger(s.outputIndex) || s.outputIndex < 0)) throw new InvalidModelSignatureError('signature.outputIndex: expected a whole number >= 0');
  return s as ModelSignature;
}

/**
 * Writes records' features into a row-major Float32Array, the model's input.
 * A missing, non-numeric or non-finite value (or a category not in the table)
 * is a DatasetParseError naming the file, row and column: a model cannot score it.
 */
export class FeatureEncoder {
  readonly width: number;
  private readonly columns: readonly string[];
  private readonly categories: readonly (Readonly<Record<string, number>> | undefined)[];

  constructor(
    signature: ModelSignature,
    private readonly file: string,
  ) {
    this.columns = signature.features.map((f) => (typeof f === 'string' ? f : f.column));
    this.categories = signature.features.map((f) => (typeof f === 'string' ? undefined : f.categories));
    this.width = this.columns.length;
  }

  /** Writes one record's features at row `index` of `into`. */
  encode(record: Readonly<Record<string, unknown>>, row: number, into: Float32Array, index: number): void {
    const base = index * this.width;
    for (let j = 0; j < this.width; j++) {
      const column = this.columns[j]!;
      const raw = record[column];
      const table = this.categories[j];
      let value: number;
      if (table) {
        const key = raw === null || raw === undefined ? '' : text(raw);
        if (!Object.hasOwn(table, key)) throw new DatasetParseError({ file: this.file, row, column }, `model feature: ${raw === undefined || raw === null || raw === '' ? 'missing value' : `'${key}' is not one of the signature's categories (${Object.keys(table).join(', ')})`}`);
        value = table[key]!;
      } else {
        value = typeof raw === 'number' ? raw : typeof raw === 'boolean' ? Number(raw) : typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' ? parseDecimal(raw) : Number.NaN;
        if (!Number.isFinite(value)) throw new DatasetParseError({ file: this.file, row, column }, `model feature: ${raw === undefined || raw === null || raw === '' ? 'missing value' : `${typeof raw === 'string' ? JSON.stringify(raw) : text(raw)} is not a finite number`}`);
      }
      into[base + j] = value;
    }
  }
}

/** A cell as text: scalars as themselves, anything else as JSON. */
function text(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : `${value as string | number | boolean | bigint}`;
}

/**
 * The positive-class score of each row from a model output of `dims`
 * ([batch], [batch, 1] or [batch, k]); the message says what the shape should be.
 */
export function scoresFromOutput(data: Float32Array | Float64Array, dims: readonly number[], rows: number, outputIndex?: number): Float64Array {
  const width = dims.length === 1 ? 1 : dims.length === 2 ? dims[1]! : -1;
  if (width < 1 || dims[0] !== rows) throw new InvalidModelSignatureError(`model output has shape [${dims.join(', ')}]; expected [${rows}], [${rows}, 1] or [${rows}, k] for a batch of ${rows}`);
  const index = outputIndex ?? (width === 2 ? 1 : 0);
  if (index >= width) throw new InvalidModelSignatureError(`signature.outputIndex ${index} is outside the model output's ${width} columns`);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = data[i * width + index]!;
  return out;
}
