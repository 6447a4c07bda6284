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
