// GNU sparse maps (GNU tar 1.34 manual, "Storing Sparse Files": old GNU 'S', pax 0.0, 0.1 and 1.0): pure codec.
import { ImageError } from '../../errors.js';
import { type SparseRun, TAR_BLOCK_BYTES } from './header.js';
import { parsePaxNumber } from './pax.js';

export type { SparseRun } from './header.js';

/** Most runs one sparse map may declare: bounds memory on hostile input (GNU tar itself never nears it). */
export const MAX_SPARSE_RUNS = 1 << 22;

/** Parses a GNU.sparse.map value (format 0.1): "offset,size,offset,size,…". */
export function parseSparseMapV01(text: string, offset: number): SparseRun[] {
  if (text === '') return [];
  const nums = text.split(',');
  if (nums.length % 2 !== 0) throw new ImageError('CORRUPT', 'GNU.sparse.map has an odd number of values', { details: { offset } });
  if (nums.length / 2 > MAX_SPARSE_RUNS) throw new ImageError('LIMIT_EXCEEDED', 'sparse map has too many runs', { details: { offset } });
  const runs: SparseRun[] = [];
  for (let i = 0; i < nums.length; i += 2) {
    runs.push({ offset: parsePaxNumber(nums[i]!, 'GNU.sparse.map', offset), length: parsePaxNumber(nums[i + 1]!, 'GNU.sparse.map', offset) });
  }
  return runs;
}

/**
 * Incremental parser of the format-1.0 map stored at the start of the data area: decimal numbers each ended by
 * '\n' — the run count, then offset and size per run — padded with NULs to a block boundary. Feed whole blocks.
 */
export class SparseMapV1Parser {
  readonly runs: SparseRun[] = [];
  #count = -1;
  #pending: number | undefined;
  #digits = '';
  #blocks = 0;
  #done = false;

  constructor(private readonly streamOffset: number) {}

  /** Number of map bytes consumed so far (a multiple of 512). */
  get bytes(): number {
    return this.#blocks * TAR_BLOCK_BYTES;
  }

  /** Consumes one 512-byte block; returns true when the map is complete (the rest of this block is padding). */
  feedBlock(block: Buffer): boolean {
    if (this.#done) return true;
    this.#blocks++;
    for (let i = 0; i < TAR_BLOCK_BYTES; i++) {
      const c = block[i]!;
      if (c >= 0x30 && c <= 0x39) {
        if (this.#digits.length > 20) this.#fail('number too long');
        this.#digits += String.fromCharCode(c);
        continue;
      }
      if (c !== 0x0a || this.#digits === '') this.#fail('unexpected byte');
      const n = Number(this.#digits);
      this.#digits = '';
      if (!Number.isSafeInteger(n)) this.#fail('number out of range');
      if (this.#count < 0) {
        if (n > MAX_SPARSE_RUNS) throw new ImageError('LIMIT_EXCEEDED', 'sparse map has too many runs', { details: { offset: this.streamOffset } });
        this.#count = n;
      } else if (this.#pending === undefined) {
        this.#pending = n;
      } else {
        this.runs.push({ offset: this.#pending, length: n });
        this.#pending = undefined;
      }
      if (this.#count >= 0 && this.runs.length === this.#count) {
        this.#done = true;
        return true;
      }
    }
    return false;
  }

  #fail(why: string): never {
    throw new ImageError('CORRUPT', `malformed GNU sparse 1.0 map: ${why}`, { details: { offset: this.streamOffset + this.bytes } });
  }
}

/** Encodes a format-1.0 map (padded to whole blocks), for fixtures and tests. */
export function encodeSparseMapV1(runs: SparseRun[]): Buffer {
  const text = [String(runs.length), ...runs.flatMap((r) => [String(r.offset), String(r.length)])].join('\n') + '\n';
  const out = Buffer.alloc(Math.ceil(text.length / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES);
  out.write(text, 'latin1');
  return out;
}

/**
 * Checks a sparse map against the archive: runs sorted and non-overlapping, inside the apparent size, and
 * their lengths adding up to the stored data size. Throws CORRUPT with `offset` otherwise.
 */
export function validateSparseMap(runs: SparseRun[], realSize: number, storedBytes: number, offset: number): void {
  let end = 0;
  let total = 0;
  for (const r of runs) {
    if (r.offset < end || r.offset + r.length > realSize) {
      throw new ImageError('CORRUPT', 'sparse map runs overlap, are unsorted or pass the file size', {
        details: { offset, runOffset: r.offset, runLength: r.length, realSize },
      });
    }
    end = r.offset + r.length;
    total += r.length;
  }
  if (total !== storedBytes) {
    throw new ImageError('CORRUPT', 'sparse map does not match the stored data size', { details: { offset, mapped: total, stored: storedBytes } });
  }
}
