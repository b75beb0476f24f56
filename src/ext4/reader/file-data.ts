// Reading the bytes of an inode: sparse-aware (holes and uninitialized extents are zeros), 64-bit sizes,
// device reads coalesced over physically contiguous runs.
import { ImageError } from '../../errors.js';
import { mapBlocks } from './extent-map.js';
import type { LoadedInode, VolumeLayout } from './volume-layout.js';

/** Largest single read: bounds one Buffer (files larger than this are read in pieces via `chunks`). */
const MAX_READ_BYTES = 1024 * 1024 * 1024;
/** Device reads one file read keeps in flight (a fragmented file must not flood a lazily fetching device). */
const READ_CONCURRENCY = 8;
/** Piece size of `chunks()`: 1 MiB keeps memory flat while streaming big files. */
const CHUNK_BYTES = 1024 * 1024;

/** Reads bytes of one inode's data. */
export class InodeData {
  readonly #layout: VolumeLayout;
  readonly inode: LoadedInode;

  constructor(layout: VolumeLayout, inode: LoadedInode) {
    this.#layout = layout;
    this.inode = inode;
  }

  /** The file size in bytes (i_size, 64-bit). */
  get size(): number {
    return this.inode.size;
  }

  /** Up to `length` bytes from `offset` (short only at end of file; empty past it). */
  async read(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new ImageError('INVALID_ARGUMENT', 'ext4: read offset and length must be non-negative integers', { details: { offset, length } });
    }
    if (length > MAX_READ_BYTES) throw new ImageError('LIMIT_EXCEEDED', 'ext4: read larger than 1 GiB; read in pieces', { details: { length, max: MAX_READ_BYTES } });
    const end = Math.min(this.inode.size, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const bs = this.#layout.blockBytes;
    const first = Math.floor(offset / bs);
    const last = Math.floor((end - 1) / bs);
    const runs = await mapBlocks(this.#layout, this.inode, first, last - first + 1);
    const out = Buffer.alloc(end - offset);
    const mapped = runs.filter((r) => r.physical !== undefined); // holes stay zero
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < mapped.length) {
        const r = mapped[next++]!;
        const runStart = Math.max(r.logical * bs, offset);
        const runEnd = Math.min((r.logical + r.count) * bs, end);
        const inRun = runStart - r.logical * bs;
        const bytes = await this.#layout.cache.dataBytes(r.physical!, inRun, runEnd - runStart, 'file data', { inode: this.inode.ino });
        bytes.copy(out, runStart - offset);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, mapped.length) }, worker));
    return out;
  }

  /** The whole content in pieces of up to `chunkBytes` (for files of any size). */
  async *chunks(chunkBytes = CHUNK_BYTES): AsyncGenerator<Buffer> {
    for (let pos = 0; pos < this.inode.size; pos += chunkBytes) yield await this.read(pos, Math.min(chunkBytes, this.inode.size - pos));
  }
}
