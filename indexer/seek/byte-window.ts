// A sliding run of recent stream bytes: append chunks, hash any retained range, drop what is no longer needed.
import { createHash } from 'node:crypto';

import { ImageError } from '../../src/errors.js';

/** Retains the stream bytes from a movable start offset so that ranges can be hashed after the fact. */
export class ByteWindow {
  #chunks: { offset: number; bytes: Buffer }[] = [];
  #end = 0;

  /** Absolute offset one past the last appended byte. */
  get end(): number {
    return this.#end;
  }

  /** Appends the next chunk of the stream. */
  append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#chunks.push({ offset: this.#end, bytes });
    this.#end += bytes.length;
  }

  /** sha256 of the retained bytes [start, end). */
  sha256(start: number, end: number): Buffer {
    const first = this.#chunks[0];
    if (end > this.#end || (start < end && (!first || start < first.offset))) {
      throw new ImageError('INTERNAL', 'span range is not retained', { details: { start, end, retainedEnd: this.#end } });
    }
    const hash = createHash('sha256');
    for (const { offset, bytes } of this.#chunks) {
      const a = Math.max(start, offset);
      const b = Math.min(end, offset + bytes.length);
      if (a < b) hash.update(bytes.subarray(a - offset, b - offset));
    }
    return hash.digest();
  }

  /** Forgets whole chunks that end at or before `offset`. */
  dropBefore(offset: number): void {
    let n = 0;
    while (n < this.#chunks.length && this.#chunks[n]!.offset + this.#chunks[n]!.bytes.length <= offset) n++;
    if (n > 0) this.#chunks.splice(0, n);
  }
}
