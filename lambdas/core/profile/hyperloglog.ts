/*
 * HyperLogLog distinct-count sketch (Flajolet et al. 2007), with linear counting
 * for small cardinalities (as in Heule et al. 2013, without the sparse mode),
 * over a 32-bit MurmurHash3 of each value's string form.
 *
 * Why not a library: the only maintained JavaScript HyperLogLog on npm
 * (bloom-filters 3.0.4) took 372 s for 2,000,000 updates here (186 µs each),
 * while a profile of 1M rows × 20 columns needs 20M updates in well under a
 * second. This file is the textbook algorithm, tested against known
 * cardinalities and its standard error 1.04/√m.
 */

/** log2 of the register count: 2^12 = 4096 registers, standard error 1.04/64 ≈ 1.6%. */
export const HLL_PRECISION = 12;
const M = 1 << HLL_PRECISION;
const ALPHA = 0.7213 / (1 + 1.079 / M);

/** MurmurHash3 x86 32-bit of a string's UTF-16 code units (seed 0). */
export function murmur3(text: string, seed = 0): number {
  let h = seed >>> 0;
  const len = text.length;
  let i = 0;
  // two UTF-16 units per 32-bit block
  for (; i + 1 < len; i += 2) {
    let k = (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = text.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/** MurmurHash3's 32-bit finalizer over a number's IEEE-754 bits: equal numbers, equal hashes (1.5 and 1.50 alike). */
export function hashNumber(value: number): number {
  F64[0] = value === 0 ? 0 : value; // -0 and 0 are one value
  let h = Math.imul(U32[0]! ^ Math.imul(U32[1]!, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}

export class HyperLogLog {
  readonly registers: Uint8Array;

  constructor(registers?: Uint8Array) {
    if (registers && registers.length !== M) throw new Error(`HyperLogLog: expected ${M} registers, got ${registers.length}`);
    this.registers = registers ?? new Uint8Array(M);
  }

  add(value: string): void {
    this.addHash(murmur3(value));
  }

  /** Adds a number by its value (see hashNumber). */
  addNumber(value: number): void {
    this.addHash(hashNumber(value));
  }

  private addHash(h: number): void {
    const index = h >>> (32 - HLL_PRECISION);
    const rest = (h << HLL_PRECISION) | (1 << (HLL_PRECISION - 1)); // sentinel bit bounds the rank
    const rank = Math.clz32(rest) + 1;
    if (rank > this.registers[index]!) this.registers[index] = rank;
  }

  /** Register-wise maximum: the sketch of the union. */
  merge(other: HyperLogLog): void {
    for (let i = 0; i < M; i++) if (other.registers[i]! > this.registers[i]!) this.registers[i] = other.registers[i]!;
  }

  estimate(): number {
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < M; i++) {
      const r = this.registers[i]!;
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const raw = (ALPHA * M * M) / sum;
    // Linear counting is more accurate while many registers are still empty.
    if (raw <= 2.5 * M && zeros > 0) return M * Math.log(M / zeros);
    return raw;
  }

  toBase64(): string {
    return Buffer.from(this.registers).toString('base64');
  }

  static fromBase64(text: string): HyperLogLog {
    return new HyperLogLog(new Uint8Array(Buffer.from(text, 'base64')));
  }
}
