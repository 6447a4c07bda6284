import { ModelError } from '../core/errors';
import { sha256Hex, type LedgerRecord } from '../core/lineage';

/** Where a model artifact is: its URI and, in a versioned bucket, its version. */
export interface ArtifactLocation {
  readonly uri: string;
  readonly versionId?: string;
}

/** A download started before the ledger record was read (`S3ModelArtifacts.start`). */
export interface StartedDownload {
  readonly location: ArtifactLocation;
  readonly bytes: Promise<Uint8Array>;
}

/** Reads a ModelVersion's artifact. */
export interface ModelArtifactReader {
  /**
   * The artifact's bytes, after checking them against the ledger's SHA-256.
   * `started`: a download begun earlier, used when it is of the location the record names.
   */
  read(model: LedgerRecord<'ModelVersion'>, started?: StartedDownload): Promise<Uint8Array>;
}

/** Parses `s3://bucket/key`. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) throw new ModelError(`artifact.uri: '${uri}' is not an s3://bucket/key URI`);
  return { bucket: m[1]!, key: m[2]! };
}

/** A model's bytes differ from what the ledger recorded: edited or replaced after it was recorded. */
export class ModelIntegrityError extends ModelError {}

/** Checks bytes against the ledger's hash: a model edited after it was recorded is never run. */
export function checkArtifactBytes(model: LedgerRecord<'ModelVersion'>, bytes: Uint8Array): Uint8Array {
  const actual = sha256Hex(bytes);
  if (actual !== model.data.artifact.sha256) {
    throw new ModelIntegrityError(`model ${model.id}: ${model.data.artifact.uri} has SHA-256 ${actual}, but the ledger recorded ${model.data.artifact.sha256}; refusing to run it`);
  }
  return bytes;
}

/** Reads an object's bytes; failures are errors named by S3's code (NoSuchKey, NoSuchVersion, AccessDenied, ...). */
export interface ObjectBytesReader {
  getBytes(bucket: string, key: string, versionId?: string): Promise<Uint8Array>;
}

/** Names of S3 errors that mean "this artifact cannot be read", not "try again". */
const UNREADABLE = new Set(['NoSuchKey', 'NoSuchVersion', 'AccessDenied', 'NoSuchBucket']);

/** Model artifacts from S3 (through the SDK or the SDK-free S3Http), hash-checked against the ledger. */
export class S3ModelArtifacts implements ModelArtifactReader {
  constructor(private readonly objects: ObjectBytesReader) {}

  /**
   * Starts downloading an artifact before its ledger record is read (an
   * endpoint's deployer pins the location beside the model id, so the two
   * reads overlap). Nothing is trusted yet: `read` checks the bytes against
   * the record's hash, and ignores the download if the record names another location.
   */
  start(location: ArtifactLocation): StartedDownload {
    const { bucket, key } = parseS3Uri(location.uri);
    const bytes = this.objects.getBytes(bucket, key, location.versionId);
    bytes.catch(() => undefined); // awaited by `read`, or abandoned if the ledger read fails first
    return { location, bytes };
  }

  async read(model: LedgerRecord<'ModelVersion'>, started?: StartedDownload): Promise<Uint8Array> {
    const { uri, versionId } = model.data.artifact;
    const download = started && started.location.uri === uri && started.location.versionId === versionId ? started : this.start({ uri, ...(versionId ? { versionId } : {}) });
    let bytes: Uint8Array;
    try {
      bytes = await download.bytes;
    } catch (err) {
      const name = (err as Error).name;
      if (UNREADABLE.has(name)) throw new ModelError(`model ${model.id}: cannot read ${uri} (${name})`, { cause: err });
      throw err;
    }
    return checkArtifactBytes(model, bytes);
  }
}
