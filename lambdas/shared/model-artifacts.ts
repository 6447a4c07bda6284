import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ModelError } from '../core/errors';
import { sha256Hex, type LedgerRecord } from '../core/lineage';

/** Reads a ModelVersion's artifact. */
export interface ModelArtifactReader {
  /** The artifact's bytes, after checking them against the ledger's SHA-256. */
  read(model: LedgerRecord<'ModelVersion'>): Promise<Uint8Array>;
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

export class S3ModelArtifacts implements ModelArtifactReader {
  constructor(private readonly s3: S3Client) {}

  async read(model: LedgerRecord<'ModelVersion'>): Promise<Uint8Array> {
    const { bucket, key } = parseS3Uri(model.data.artifact.uri);
    let bytes: Uint8Array;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(model.data.artifact.versionId ? { VersionId: model.data.artifact.versionId } : {}) }));
      bytes = await out.Body!.transformToByteArray();
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'NoSuchKey' || name === 'NoSuchVersion' || name === 'AccessDenied') throw new ModelError(`model ${model.id}: cannot read ${model.data.artifact.uri} (${name})`, { cause: err });
      throw err;
    }
    return checkArtifactBytes(model, bytes);
  }
}
