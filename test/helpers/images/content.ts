// Deterministic file contents for fixtures: seeded pseudo-random bytes and text that are the same on every machine.
import { createHash } from 'node:crypto';

/** `length` pseudo-random bytes: sha256(seed ‖ counter) blocks concatenated (fast, seed-reproducible). */
export function seededBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  const prefix = Buffer.from(`${seed}\0`);
  const counter = Buffer.alloc(8);
  for (let off = 0, i = 0; off < length; off += 32, i++) {
    counter.writeBigUInt64LE(BigInt(i));
    createHash('sha256').update(prefix).update(counter).digest().copy(out, off);
  }
  return out;
}

/** The lines "1\n2\n…\n<count>\n" (a compressible text file whose every offset is predictable). */
export function sequenceText(count: number): Buffer {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(String(i));
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** Deterministic compressible text of `length` bytes derived from `seed` (words from a small vocabulary). */
export function seededText(seed: string, length: number): Buffer {
  const words = ['turbo', 'oci', 'layer', 'ext4', 'block', 'span', 'inode', 'extent', 'gzip', 'tar', 'lazy', 'image'];
  const rnd = seededBytes(seed, Math.max(32, length));
  let s = '';
  for (let i = 0; s.length < length; i++) s += words[rnd[i % rnd.length]! % words.length] + (i % 12 === 11 ? '\n' : ' ');
  return Buffer.from(s.slice(0, length));
}
