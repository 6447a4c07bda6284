import { CdkMlopsError } from './errors';
import type { ColumnSummary, ColumnType } from './profile/column-profile';
import type { DatasetProfile } from './profile/dataset-profile';

/*
 * Dataset contracts: what a dataset must look like, versioned beside it as JSON
 * or YAML, checked against its profile (so checking never re-reads the data).
 *
 *   version: 1
 *   rows: { min: 100 }
 *   extraColumns: allow          # or forbid
 *   columns:
 *     wage:   { type: float, nullable: false, min: 0, max: 200 }
 *     gender: { type: string, allowedValues: [female, male], maxMissingFraction: 0.01 }
 *     id:     { type: integer, unique: true }
 *
 * A check the profile cannot decide exactly (allowed values or uniqueness of a
 * column with more distinct values than the frequent-items summary holds) is
 * decided from the HyperLogLog estimate and says so in its message.
 */

export const CONTRACT_VERSION = 1;
const TYPES: readonly ColumnType[] = ['integer', 'float', 'boolean', 'string'];

export interface ColumnContract {
  /** The column's type; an integer column satisfies `float`. */
  readonly type?: Exclude<ColumnType, 'empty'>;
  /** @default true */
  readonly required?: boolean;
  /** false: no missing value at all. @default true */
  readonly nullable?: boolean;
  readonly maxMissingFraction?: number;
  readonly min?: number;
  readonly max?: number;
  readonly allowedValues?: readonly (string | number | boolean)[];
  readonly unique?: boolean;
}

export interface DatasetContract {
  readonly version: typeof CONTRACT_VERSION;
  readonly rows?: { readonly min?: number; readonly max?: number };
  /** @default 'allow' */
  readonly extraColumns?: 'allow' | 'forbid';
  readonly columns: Readonly<Record<string, ColumnContract>>;
}

export interface Violation {
  readonly column: string | null;
  readonly rule: string;
  readonly observed: number | string | null;
  readonly limit: number | string | null;
  readonly message: string;
}

/** A contract file that is not a valid contract: the message names the field. */
export class InvalidContractError extends CdkMlopsError {}

/**
 * Checks a contract document (parsed from its YAML or JSON text: `parseContract`
 * in contract-file.ts) and returns it typed; a bad field is an InvalidContractError naming it.
 */
export function contractFromDocument(raw: unknown, file = 'contract'): DatasetContract {
  const fail = (field: string, expected: string): never => {
    throw new InvalidContractError(`${file}: ${field}: ${expected}`);
  };
  const obj = (v: unknown, field: string): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(field, 'expected an object'));
  const num = (v: unknown, field: string, min = -Infinity, max = Infinity): number | undefined =>
    v === undefined ? undefined : typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : fail(field, `expected a number${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` <= ${max}` : ''}`);
  const bool = (v: unknown, field: string): boolean | undefined => (v === undefined ? undefined : typeof v === 'boolean' ? v : fail(field, 'expected true or false'));

  const top = obj(raw, '(top level)');
  if (top.version !== CONTRACT_VERSION) fail('version', `expected ${CONTRACT_VERSION}`);
  const known = new Set(['version', 'rows', 'extraColumns', 'columns']);
  for (const k of Object.keys(top)) if (!known.has(k)) fail(k, `unknown field (expected one of ${[...known].join(', ')})`);
  const rowsRaw = top.rows === undefined ? undefined : obj(top.rows, 'rows');
  const rows = rowsRaw ? { min: num(rowsRaw.min, 'rows.min', 0), max: num(rowsRaw.max, 'rows.max', 0) } : undefined;
  if (rows?.min !== undefined && rows.max !== undefined && rows.min > rows.max) fail('rows', 'min is greater than max');
  const extra = top.extraColumns;
  if (extra !== undefined && extra !== 'allow' && extra !== 'forbid') fail('extraColumns', "expected 'allow' or 'forbid'");
  const columns: Record<string, ColumnContract> = {};
  const columnFields = new Set(['type', 'required', 'nullable', 'maxMissingFraction', 'min', 'max', 'allowedValues', 'unique']);
  for (const [name, value] of Object.entries(obj(top.columns, 'columns'))) {
    const f = (k: string): string => `columns.${name}.${k}`;
    const c = obj(value ?? {}, `columns.${name}`);
    for (const k of Object.keys(c)) if (!columnFields.has(k)) fail(f(k), `unknown field (expected one of ${[...columnFields].join(', ')})`);
    if (c.type !== undefined && !TYPES.includes(c.type as ColumnType)) fail(f('type'), `expected one of ${TYPES.join(', ')}`);
    const allowed = c.allowedValues;
    if (allowed !== undefined && (!Array.isArray(allowed) || allowed.some((v) => !['string', 'number', 'boolean'].includes(typeof v)))) fail(f('allowedValues'), 'expected a list of strings, numbers or booleans');
    const col: ColumnContract = {
      ...(c.type !== undefined ? { type: c.type as ColumnContract['type'] } : {}),
      ...(c.required !== undefined ? { required: bool(c.required, f('required')) } : {}),
      ...(c.nullable !== undefined ? { nullable: bool(c.nullable, f('nullable')) } : {}),
      ...(c.maxMissingFraction !== undefined ? { maxMissingFraction: num(c.maxMissingFraction, f('maxMissingFraction'), 0, 1) } : {}),
      ...(c.min !== undefined ? { min: num(c.min, f('min')) } : {}),
      ...(c.max !== undefined ? { max: num(c.max, f('max')) } : {}),
      ...(allowed !== undefined ? { allowedValues: allowed as ColumnContract['allowedValues'] } : {}),
      ...(c.unique !== undefined ? { unique: bool(c.unique, f('unique')) } : {}),
    };
    if (col.min !== undefined && col.max !== undefined && col.min > col.max) fail(`columns.${name}`, 'min is greater than max');
    columns[name] = col;
  }
  return { version: CONTRACT_VERSION, ...(rows ? { rows } : {}), ...(extra ? { extraColumns: extra as 'allow' | 'forbid' } : {}), columns };
}

/** Every way the profiled data breaks the contract (empty: it keeps it). */
export function checkContract(contract: DatasetContract, profile: DatasetProfile): Violation[] {
  const summary = profile.summary();
  const v: Violation[] = [];
  const add = (column: string | null, rule: string, observed: Violation['observed'], limit: Violation['limit'], message: string): void => {
    v.push({ column, rule, observed, limit, message: `${column ?? 'dataset'}: ${message}` });
  };
  if (contract.rows?.min !== undefined && summary.rows < contract.rows.min) add(null, 'rows.min', summary.rows, contract.rows.min, `${summary.rows} rows, fewer than the minimum ${contract.rows.min}`);
  if (contract.rows?.max !== undefined && summary.rows > contract.rows.max) add(null, 'rows.max', summary.rows, contract.rows.max, `${summary.rows} rows, more than the maximum ${contract.rows.max}`);
  if (contract.extraColumns === 'forbid') {
    for (const name of Object.keys(summary.columns)) if (!(name in contract.columns)) add(name, 'extraColumns', name, null, 'column is not in the contract (extraColumns: forbid)');
  }
  for (const [name, c] of Object.entries(contract.columns)) {
    const s = summary.columns[name];
    if (!s) {
      if (c.required ?? true) add(name, 'required', null, null, 'required column is missing');
      continue;
    }
    checkColumn(name, c, s, profile.column(name).values(), add);
  }
  return v;
}

function checkColumn(name: string, c: ColumnContract, s: ColumnSummary, values: readonly [string, number][], add: (column: string, rule: string, observed: Violation['observed'], limit: Violation['limit'], message: string) => void): void {
  if (c.type !== undefined && s.type !== 'empty' && s.type !== c.type && !(c.type === 'float' && s.type === 'integer')) {
    const offenders = Object.entries(s.kinds).filter(([k, n]) => n > 0 && k !== c.type && !(c.type === 'float' && k === 'integer')).map(([k, n]) => `${n} ${k}`);
    add(name, 'type', s.type, c.type, `type is ${s.type}, expected ${c.type} (${offenders.join(', ')} value(s))`);
  }
  if (c.nullable === false && s.missing > 0) add(name, 'nullable', s.missing, 0, `${s.missing} missing value(s) in a non-nullable column`);
  if (c.maxMissingFraction !== undefined && s.missingFraction > c.maxMissingFraction) {
    add(name, 'maxMissingFraction', round(s.missingFraction), c.maxMissingFraction, `missing fraction ${round(s.missingFraction)} exceeds ${c.maxMissingFraction}`);
  }
  if (c.min !== undefined || c.max !== undefined) {
    if (s.numeric) {
      if (c.min !== undefined && s.numeric.min < c.min) add(name, 'min', s.numeric.min, c.min, `minimum ${s.numeric.min} is below ${c.min}`);
      if (c.max !== undefined && s.numeric.max > c.max) add(name, 'max', s.numeric.max, c.max, `maximum ${s.numeric.max} is above ${c.max}`);
    }
    if (s.infinite > 0) add(name, c.max !== undefined ? 'max' : 'min', 'Infinity', c.max ?? c.min ?? null, `${s.infinite} infinite value(s) in a bounded column`);
  }
  if (c.allowedValues !== undefined) {
    const allowed = new Set(c.allowedValues.map(String));
    const outside = values.filter(([value]) => !allowed.has(value)).slice(0, 10);
    if (outside.length > 0) add(name, 'allowedValues', outside.map(([value]) => value).join(', '), [...allowed].join(', '), `value(s) outside the allowed set: ${outside.map(([value, n]) => `'${value}' (${n})`).join(', ')}`);
    else if (s.distinct > allowed.size) add(name, 'allowedValues', s.distinct, allowed.size, `${s.distinct}${s.distinctExact ? '' : ' (estimated)'} distinct values, more than the ${allowed.size} allowed`);
  }
  if (c.unique) {
    const nonMissing = s.count - s.missing;
    const duplicates = nonMissing - s.distinct;
    // the HyperLogLog estimate is within ~5% (3 standard errors): only call duplicates beyond that
    const tolerance = s.distinctExact ? 0 : Math.ceil(nonMissing * 0.05);
    if (duplicates > tolerance) add(name, 'unique', s.distinct, nonMissing, `${duplicates}${s.distinctExact ? '' : ' (estimated)'} duplicate value(s): ${s.distinct} distinct among ${nonMissing}`);
  }
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * A contract suggested from a profile, as Deequ does: the observed type;
 * non-nullable when nothing is missing, else a missing-fraction cap with headroom;
 * non-negative when no negative value was seen; allowed values for a small, exact
 * set of categories seen in enough rows; uniqueness when every value is distinct.
 * A starting point to review, not a verdict.
 */
export function suggestContract(profile: DatasetProfile): DatasetContract {
  const summary = profile.summary();
  const columns: Record<string, ColumnContract> = {};
  for (const [name, s] of Object.entries(summary.columns)) {
    if (s.type === 'empty') {
      columns[name] = { required: true };
      continue;
    }
    const nonMissing = s.count - s.missing;
    columns[name] = {
      type: s.type,
      ...(s.missing === 0 ? { nullable: false } : { maxMissingFraction: Math.min(1, round(s.missingFraction * 1.5)) }),
      ...(s.numeric && s.numeric.min >= 0 ? { min: 0 } : {}),
      ...((s.type === 'string' || s.type === 'boolean') && s.distinctExact && s.distinct <= 20 && nonMissing >= 10 * s.distinct ? { allowedValues: s.top.map((t) => t.value).sort() } : {}),
      ...((s.type === 'string' || s.type === 'integer') && s.distinctExact && s.distinct === nonMissing && nonMissing > 1 ? { unique: true } : {}),
    };
  }
  return { version: CONTRACT_VERSION, rows: { min: 1 }, columns };
}
