import { isUtf8 } from 'node:buffer';

/** Where, if anywhere, a byte stream stopped being valid UTF-8. */
export type Utf8Result = { readonly valid: true } | { readonly valid: false; readonly offset: number; readonly reason: string };

const EMPTY = Buffer.alloc(0);

/**
 * Validates UTF-8 across chunk boundaries with `buffer.isUtf8` (simdutf), so it
 * costs a small fraction of hashing. A multi-byte sequence split between two
 * chunks is carried (at most 3 bytes) into the next chunk.
 */
export class Utf8StreamValidator {
  private carry: Buffer = EMPTY;
  private consumed = 0;
  private failure: { offset: number; reason: string } | undefined;

  /** Feeds the next chunk. Once invalid, later chunks are ignored. */
  push(chunk: Uint8Array): void {
    if (this.failure) return;
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const cut = incompleteTailStart(buf);
    const body = buf.subarray(0, cut);
    if (!isUtf8(body)) {
      const at = firstInvalidUtf8(body);
      this.failure = { offset: this.consumed + at.offset, reason: at.reason };
      return;
    }
    this.consumed += cut;
    this.carry = cut < buf.length ? Buffer.from(buf.subarray(cut)) : EMPTY;
  }

  /** The first invalid sequence found so far, if any. */
  get failed(): { readonly offset: number; readonly reason: string } | undefined {
    return this.failure;
  }

  /** Ends the stream: a sequence still open at the end is invalid. */
  end(): Utf8Result {
    if (this.failure) return { valid: false, ...this.failure };
    if (this.carry.length > 0) {
      return { valid: false, offset: this.consumed, reason: 'truncated multi-byte sequence at end of file' };
    }
    return { valid: true };
  }
}

/** Index where an incomplete trailing multi-byte sequence starts, or `buf.length`. */
export function incompleteTailStart(buf: Uint8Array): number {
  const len = buf.length;
  for (let i = len - 1; i >= 0 && i >= len - 3; i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    if (b < 0xc2 || b > 0xf4) return len; // ASCII or a byte that starts no sequence: nothing to carry
    const needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return len - i < needed ? i : len;
  }
  return len;
}

/**
 * Finds the first invalid byte with the exact rules of RFC 3629 (no overlong
 * forms, no surrogates, nothing above U+10FFFF). Only called once a chunk is
 * known to be invalid, so its speed does not matter.
 */
export function firstInvalidUtf8(buf: Uint8Array): { offset: number; reason: string } {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) { i++; continue; }
    let need: number; let min: number; let cp: number;
    if (b >= 0xc2 && b <= 0xdf) { need = 1; min = 0x80; cp = b & 0x1f; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; min = 0x800; cp = b & 0x0f; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; min = 0x10000; cp = b & 0x07; }
    else return { offset: i, reason: `byte 0x${hex(b)} cannot start a UTF-8 sequence` };
    for (let k = 1; k <= need; k++) {
      if (i + k >= buf.length) return { offset: i, reason: 'truncated multi-byte sequence' };
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return { offset: i, reason: `byte 0x${hex(b)} is not followed by a continuation byte` };
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min) return { offset: i, reason: 'overlong encoding' };
    if (cp >= 0xd800 && cp <= 0xdfff) return { offset: i, reason: 'encoded UTF-16 surrogate' };
    if (cp > 0x10ffff) return { offset: i, reason: 'code point above U+10FFFF' };
    i += need + 1;
  }
  return { offset: buf.length, reason: 'truncated multi-byte sequence' };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
