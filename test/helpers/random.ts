// Deterministic randomness for tests: an RNG seeded by a name, so failures reproduce.
import { createHash } from 'node:crypto';

/** A seeded PRNG (xorshift128+ on a sha256 of the seed); same seed, same sequence. */
export class SeededRandom {
  #s0: bigint;
  #s1: bigint;

  constructor(seed: string) {
    const h = createHash('sha256').update(seed).digest();
    this.#s0 = h.readBigUInt64LE(0) | 1n;
    this.#s1 = h.readBigUInt64LE(8) | 1n;
  }

  /** Next 64 random bits. */
  nextU64(): bigint {
    let x = this.#s0;
    const y = this.#s1;
    this.#s0 = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    this.#s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (this.#s1 + y) & 0xffffffffffffffffn;
  }

  /** A uniform integer in [0, bound). */
  int(bound: number): number {
    return Number(this.nextU64() % BigInt(Math.max(1, bound)));
  }

  /** `length` random bytes. */
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += 8) {
      const v = this.nextU64();
      for (let j = 0; j < 8 && i + j < length; j++) out[i + j] = Number((v >> BigInt(8 * j)) & 0xffn);
    }
    return out;
  }
}

/** Fixed seed for fast-check property tests (reproducible runs). */
export const PROPERTY_SEED = 0x7ab0_0c1;
