// A BlockDevice over a raw image file with positional reads: for tests, benchmarks and debugging.
import { open, type FileHandle } from 'node:fs/promises';

import { ImageError } from '../errors.js';
import type { BlockDevice } from '../format/block-device.js';

/** Options of FileBlockDevice.open. */
export interface FileBlockDeviceOptions {
  /** Advertised block size (default 4096). */
  blockBytes?: number;
}

/** A read-only block device backed by a raw image file; the size is the file size rounded down to whole blocks. */
export class FileBlockDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly blockBytes: number;
  readonly path: string;
  readonly #fh: FileHandle;
  #closed = false;

  private constructor(path: string, fh: FileHandle, sizeBytes: number, blockBytes: number) {
    this.path = path;
    this.#fh = fh;
    this.sizeBytes = sizeBytes;
    this.blockBytes = blockBytes;
  }

  /** Opens `path` read-only; NOT_FOUND when missing, INVALID_ARGUMENT when smaller than one block. */
  static async open(path: string, options: FileBlockDeviceOptions = {}): Promise<FileBlockDevice> {
    const blockBytes = options.blockBytes ?? 4096;
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'UNAVAILABLE';
      throw new ImageError(code, `cannot open image ${path}`, { details: { path }, cause: err });
    }
    const { size } = await fh.stat();
    const sizeBytes = size - (size % blockBytes);
    if (sizeBytes === 0) {
      await fh.close();
      throw new ImageError('INVALID_ARGUMENT', 'image is smaller than one block', { details: { path, size, blockBytes } });
    }
    return new FileBlockDevice(path, fh, sizeBytes, blockBytes);
  }

  /** Exactly `length` bytes at `offset`; INVALID_ARGUMENT outside the device, UNAVAILABLE when the file shrank or fails. */
  async read(offset: number, length: number): Promise<Buffer> {
    if (this.#closed) throw new ImageError('FAILED_PRECONDITION', 'block device is closed', { details: { path: this.path } });
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.sizeBytes) {
      throw new ImageError('INVALID_ARGUMENT', 'read outside the device', { details: { offset, length, sizeBytes: this.sizeBytes } });
    }
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.#fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (err) {
      throw new ImageError('UNAVAILABLE', `cannot read image ${this.path}`, { details: { path: this.path, offset, length }, cause: err });
    }
    if (done !== length) throw new ImageError('UNAVAILABLE', 'image file shrank', { details: { path: this.path, offset, length, got: done } });
    return buf;
  }

  /** Closes the file (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }
}
