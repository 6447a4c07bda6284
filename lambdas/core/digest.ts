import { createHash } from 'node:crypto';
import { Utf8StreamValidator, type Utf8Result } from './utf8';

/** What one pass over a file's bytes tells about it. */
export interface StreamDigest {
  /** Lower-case hex SHA-256 of every byte. */
  readonly sha256: string;
  /** Bytes read. */
  readonly size: number;
  /** UTF-8 validity, when it was asked for. */
  readonly utf8?: Utf8Result;
  /** The first `headBytes` bytes, kept for schema detection. */
  readonly head: Buffer;
  /** True when `head` holds the whole file. */
  readonly headIsWholeFile: boolean;
}

export interface DigestOptions {
  /** Check that the bytes are UTF-8 (text formats). */
  readonly validateUtf8: boolean;
  /** How many leading bytes to keep for schema detection. */
  readonly headBytes: number;
}

/**
 * Hashes a stream in one pass with bounded memory: only the current chunk, a
 * fixed-size head and at most 3 carried UTF-8 bytes are held at any time.
 */
export async function digestStream(source: AsyncIterable<Uint8Array>, options: DigestOptions): Promise<StreamDigest> {
  const hash = createHash('sha256');
  const validator = options.validateUtf8 ? new Utf8StreamValidator() : undefined;
  const head = Buffer.allocUnsafe(options.headBytes);
  let headLength = 0;
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    validator?.push(chunk);
    if (headLength < options.headBytes) {
      const take = Math.min(options.headBytes - headLength, chunk.byteLength);
      head.set(chunk.subarray(0, take), headLength);
      headLength += take;
    }
    size += chunk.byteLength;
  }
  return {
    sha256: hash.digest('hex'),
    size,
    ...(validator ? { utf8: validator.end() } : {}),
    head: head.subarray(0, headLength),
    headIsWholeFile: size === headLength,
  };
}
