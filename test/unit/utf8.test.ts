import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8, incompleteTailStart, Utf8StreamValidator } from '../../lambdas/core/utf8';

function validate(chunks: Uint8Array[]) {
  const v = new Utf8StreamValidator();
  chunks.forEach((c) => v.push(c));
  return v.end();
}

function splitEverywhere(bytes: Buffer): Uint8Array[][] {
  // every way of cutting the bytes into two chunks, and into single bytes
  const out: Uint8Array[][] = [[...bytes].map((b) => Uint8Array.of(b))];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return out;
}

describe('Utf8StreamValidator', () => {
  // 1-, 2-, 3- and 4-byte sequences: 'a', 'é' (C3 A9), '€' (E2 82 AC), '𝄞' (F0 9D 84 9E)
  const text = Buffer.from('a é € 𝄞 end', 'utf8');

  it.each(splitEverywhere(text).map((chunks, i) => [i, chunks] as const))('accepts valid UTF-8 however it is chunked (split %i)', (_i, chunks) => {
    expect(validate(chunks)).toEqual({ valid: true });
  });

  it.each([
    ['Latin-1 é', Buffer.from('name\nJos\xe9\n', 'latin1'), 8, 'byte 0xe9 is not followed by a continuation byte'],
    ['lone continuation byte', Buffer.from([0x61, 0x80, 0x61]), 1, 'byte 0x80 cannot start a UTF-8 sequence'],
    ['overlong NUL (C0 80)', Buffer.from([0x61, 0x62, 0xc0, 0x80]), 2, 'byte 0xc0 cannot start a UTF-8 sequence'],
    ['overlong 3-byte slash (E0 80 AF)', Buffer.from([0xe0, 0x80, 0xaf]), 0, 'overlong encoding'],
    ['UTF-16 surrogate (ED A0 80)', Buffer.from([0x41, 0xed, 0xa0, 0x80]), 1, 'encoded UTF-16 surrogate'],
    ['above U+10FFFF (F4 90 80 80)', Buffer.from([0xf4, 0x90, 0x80, 0x80]), 0, 'code point above U+10FFFF'],
    ['5-byte lead (F8)', Buffer.from([0x41, 0x42, 0x43, 0xf8, 0x80]), 3, 'byte 0xf8 cannot start a UTF-8 sequence'],
  ])('rejects %s at the right byte offset', (_name, bytes, offset, reason) => {
    for (const chunks of splitEverywhere(bytes)) {
      expect(validate(chunks)).toEqual({ valid: false, offset, reason });
    }
  });

  it('rejects a multi-byte sequence cut off by the end of the file', () => {
    expect(validate([Buffer.from([0x61, 0xe2, 0x82])])).toEqual({ valid: false, offset: 1, reason: 'truncated multi-byte sequence at end of file' });
  });

  it('counts the offset across many chunks', () => {
    const chunks = [Buffer.alloc(1000, 0x61), Buffer.alloc(1000, 0x62), Buffer.from([0x63, 0xff])];
    expect(validate(chunks)).toMatchObject({ valid: false, offset: 2001 });
  });

  it('treats an empty stream as valid', () => {
    expect(validate([])).toEqual({ valid: true });
  });
});

describe('incompleteTailStart', () => {
  it.each([
    [[0x61, 0x62], 2],
    [[0x61, 0xc3], 1], // 2-byte lead without its continuation
    [[0x61, 0xc3, 0xa9], 3], // complete 'é'
    [[0xe2, 0x82], 0], // 2 of 3 bytes of '€'
    [[0xf0, 0x9d, 0x84], 0], // 3 of 4 bytes of '𝄞'
    [[0xf0, 0x9d, 0x84, 0x9e], 4],
  ])('%j -> %i', (bytes, expected) => {
    expect(incompleteTailStart(Uint8Array.from(bytes))).toBe(expected);
  });
});

describe('firstInvalidUtf8', () => {
  it('reports a lead byte whose continuation is missing at the end', () => {
    expect(firstInvalidUtf8(Uint8Array.from([0x61, 0xc3]))).toEqual({ offset: 1, reason: 'truncated multi-byte sequence' });
  });
});
