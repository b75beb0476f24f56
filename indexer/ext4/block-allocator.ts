// Deterministic block allocation for a chain of layers: file data bump-allocated upward from the bottom and
// never reused (so old mappings never need zeroing), metadata allocated downward from the top of the device
// with freed metadata blocks reused highest-first. Both skip the static metadata of Ext4Geometry.
import { ImageError } from '../../src/errors.js';
import type { BlockRun, Ext4Geometry } from './geometry.js';

/** Allocator state shared by all layers of one chain. */
export class BlockAllocator {
  readonly #geometry: Ext4Geometry;
  #dataCursor: number;
  #metaCursor: number;
  readonly #freeMeta: number[] = [];

  constructor(geometry: Ext4Geometry) {
    this.#geometry = geometry;
    this.#dataCursor = 0;
    this.#metaCursor = geometry.blocks; // exclusive: next metadata run ends here
  }

  /** The reserved run containing `block`, if any. */
  #reservedAt(block: number): BlockRun | undefined {
    const r = this.#geometry.reserved;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const run = r[mid]!;
      if (block < run.start) hi = mid - 1;
      else if (block >= run.start + run.length) lo = mid + 1;
      else return run;
    }
    return undefined;
  }

  /** The first reserved run starting at or after `block`. */
  #nextReserved(block: number): BlockRun | undefined {
    const r = this.#geometry.reserved;
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid]!.start < block) lo = mid + 1;
      else hi = mid;
    }
    return r[lo];
  }

  #full(need: number): never {
    throw new ImageError('LIMIT_EXCEEDED', 'the ext4 device is full', {
      details: { deviceBytes: this.#geometry.deviceBytes, blocksNeeded: need },
      hint: 'use a larger device size for this chain',
    });
  }

  /** Allocates `count` data blocks upward; returns runs in ascending order. */
  allocData(count: number): BlockRun[] {
    const runs: BlockRun[] = [];
    let left = count;
    while (left > 0) {
      const inRun = this.#reservedAt(this.#dataCursor);
      if (inRun) {
        this.#dataCursor = inRun.start + inRun.length;
        continue;
      }
      const next = this.#nextReserved(this.#dataCursor);
      const limit = Math.min(next ? next.start : this.#geometry.blocks, this.#metaCursor);
      if (this.#dataCursor >= limit) {
        if (limit === this.#metaCursor) this.#full(left);
        continue;
      }
      const take = Math.min(left, limit - this.#dataCursor);
      const last = runs[runs.length - 1];
      if (last && last.start + last.length === this.#dataCursor) last.length += take;
      else runs.push({ start: this.#dataCursor, length: take });
      this.#dataCursor += take;
      left -= take;
    }
    return runs;
  }

  /** Allocates one metadata block (a freed one first, highest first). */
  allocMetaBlock(): number {
    const freed = this.#freeMeta.pop();
    if (freed !== undefined) return freed;
    return this.allocMetaRun(1);
  }

  /** Allocates `count` contiguous metadata blocks below the metadata cursor; returns the first. */
  allocMetaRun(count: number): number {
    let end = this.#metaCursor;
    for (;;) {
      const start = end - count;
      if (start < this.#dataCursor) this.#full(count);
      // Any reserved run overlapping [start, end)? Move below it.
      const clash = this.#reservedAt(start) ?? this.#nextReserved(start);
      if (clash && clash.start < end) {
        end = clash.start;
        continue;
      }
      this.#metaCursor = start;
      return start;
    }
  }

  /** Returns metadata blocks to the free pool (they are reused highest-first). */
  freeMeta(blocks: Iterable<number>): void {
    for (const b of blocks) this.#freeMeta.push(b);
    this.#freeMeta.sort((a, b) => a - b);
  }
}
