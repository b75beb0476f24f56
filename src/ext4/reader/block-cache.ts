// A byte-bounded LRU of filesystem metadata blocks over a BlockDevice, with single-flight of concurrent misses.
import type { BlockDevice } from '../../format/block-device.js';
import { ByteLru } from '../../seek/byte-lru.js';
import { corrupt } from './reader-errors.js';

/** Reads whole filesystem blocks, caching metadata blocks (data blocks bypass the cache). */
export class BlockCache {
  readonly #device: BlockDevice;
  readonly #blockBytes: number;
  readonly #blocksCount: number;
  readonly #lru: ByteLru<number>;
  readonly #inflight = new Map<number, Promise<Buffer>>();
  /** Metadata block reads answered from memory. */
  hits = 0;
  /** Metadata block reads that went to the device. */
  misses = 0;

  constructor(device: BlockDevice, blockBytes: number, blocksCount: number, maxBytes: number) {
    this.#device = device;
    this.#blockBytes = blockBytes;
    this.#blocksCount = blocksCount;
    this.#lru = new ByteLru<number>(maxBytes);
  }

  /** Bytes of metadata blocks held. */
  get bytes(): number {
    return this.#lru.bytes;
  }

  /** Throws CORRUPT when `block` (referenced by `what`) lies outside the filesystem. */
  check(block: number, count: number, what: string, details: Record<string, number | string> = {}): void {
    if (!Number.isSafeInteger(block) || block < 0 || count < 0 || block + count > this.#blocksCount) {
      throw corrupt(`${what} points outside the filesystem`, { ...details, block, count, blocksCount: this.#blocksCount });
    }
  }

  /** The bytes of metadata block `block` (cached; callers must not modify them). */
  async block(block: number, what: string, details: Record<string, number | string> = {}): Promise<Buffer> {
    const hit = this.#lru.get(block);
    if (hit) {
      this.hits++;
      return hit;
    }
    const pending = this.#inflight.get(block);
    if (pending) return pending;
    this.check(block, 1, what, details);
    this.misses++;
    const p = this.#device.read(block * this.#blockBytes, this.#blockBytes).then(
      (b) => {
        this.#inflight.delete(block);
        this.#lru.set(block, b);
        return b;
      },
      (err: unknown) => {
        this.#inflight.delete(block);
        throw err;
      },
    );
    this.#inflight.set(block, p);
    return p;
  }

  /** Reads `count` data blocks from `block` straight from the device (not cached). */
  async data(block: number, count: number, what: string, details: Record<string, number | string> = {}): Promise<Buffer> {
    this.check(block, count, what, details);
    return this.#device.read(block * this.#blockBytes, count * this.#blockBytes);
  }

  /** Reads `length` bytes at byte `offset` inside data block `block` (not cached). */
  async dataBytes(block: number, offset: number, length: number, what: string, details: Record<string, number | string> = {}): Promise<Buffer> {
    this.check(block, Math.ceil((offset + length) / this.#blockBytes), what, details);
    return this.#device.read(block * this.#blockBytes + offset, length);
  }
}
