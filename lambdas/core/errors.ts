/**
 * Named errors of the pure core. Each carries enough context (file, row, column,
 * byte offset) for a reader to find the problem without a stack trace.
 */

/** Base class: every error the kit raises on purpose is a `CdkMlopsError`. */
export class CdkMlopsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bytes of a dataset file cannot be read as the format they claim to be. */
export class UnreadableDatasetError extends CdkMlopsError {}

/** An event did not have the shape the handler expects. */
export class InvalidEventError extends CdkMlopsError {}

/** A ledger record failed validation before it was written. */
export class InvalidRecordError extends CdkMlopsError {}

/** A ledger write lost too many races for the head of its chain. */
export class LedgerContentionError extends CdkMlopsError {}

/** Where in a dataset file a problem is. */
export interface DatasetLocation {
  readonly file: string;
  /** 1-based row (record) number; the header is row 1 in CSV/TSV, the first line is line 1 in JSON Lines. */
  readonly row?: number;
  readonly column?: string;
  readonly byteOffset?: number;
}

/** A dataset file that cannot be read as its format: the message names file, row and column. */
export class DatasetParseError extends CdkMlopsError {
  readonly location: DatasetLocation;
  /** The message without the location. */
  readonly detail: string;

  constructor(location: DatasetLocation, detail: string, options?: ErrorOptions) {
    const where = [
      location.file,
      location.row !== undefined ? `row ${location.row}` : undefined,
      location.column !== undefined ? `column '${location.column}'` : undefined,
      location.byteOffset !== undefined ? `byte ${location.byteOffset}` : undefined,
    ].filter((x) => x !== undefined);
    super(`${where.join(', ')}: ${detail}`, options);
    this.location = location;
    this.detail = detail;
  }
}

/** A model cannot be used: its bytes differ from the ledger's record, it does not load, or its output is not scores. */
export class ModelError extends CdkMlopsError {}
