import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestStream } from '../../lambdas/core/digest';

async function* chunked(bytes: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

describe('digestStream', () => {
  it('hashes "abc" to the FIPS 180-2 test vector', async () => {
    const d = await digestStream(chunked(Buffer.from('abc'), [1]), { validateUtf8: true, headBytes: 16 });
    expect(d.sha256).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(d.size).toBe(3);
    expect(d.head.toString()).toBe('abc');
    expect(d.headIsWholeFile).toBe(true);
    expect(d.utf8).toEqual({ valid: true });
  });

  it('hashes the empty file to the SHA-256 of nothing', async () => {
    const d = await digestStream(chunked(Buffer.alloc(0), [1]), { validateUtf8: true, headBytes: 16 });
    expect(d).toMatchObject({ sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0, headIsWholeFile: true });
  });

  it.each([[[1]], [[7, 3, 1000]], [[65536]], [[100_000]]])('gives the same hash and head whatever the chunking (%j)', async (sizes) => {
    const bytes = randomBytes(200_000);
    const d = await digestStream(chunked(bytes, sizes), { validateUtf8: false, headBytes: 1024 });
    expect(d.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(d.size).toBe(200_000);
    expect(d.head.equals(bytes.subarray(0, 1024))).toBe(true);
    expect(d.headIsWholeFile).toBe(false);
    expect(d.utf8).toBeUndefined();
  });
});
