// Local layer files: a CompressedSource over positional reads, and a chunk stream with one read ahead.
import { open, type FileHandle } from 'node:fs/promises';

import { FILE_STREAM_CHUNK_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';
import type { CompressedSource } from '../seek/compressed-source.js';

function ioError(err: unknown, path: string): ImageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ImageError('NOT_FOUND', `no such file: ${path}`, { details: { path }, cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new ImageError('PERMISSION_DENIED', `cannot open ${path}`, { details: { path }, cause: err });
  return new ImageError('UNAVAILABLE', `cannot read ${path}: ${(err as Error).message}`, { details: { path }, cause: err });
}

/** A layer file opened for random access. */
export class FileSource implements CompressedSource {
  readonly size: number;
  readonly path: string;
  readonly #fh: FileHandle;
  #closed = false;

  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path;
    this.#fh = fh;
    this.size = size;
  }

  /** Opens `path`; NOT_FOUND when it does not exist. */
  static async open(path: string): Promise<FileSource> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw ioError(err, path);
    }
    const { size } = await fh.stat();
    return new FileSource(path, fh, size);
  }

  /** `length` bytes at `offset` (fewer past the end of the file). */
  async read(offset: number, length: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = Buffer.allocUnsafeSlow(n);
    let done = 0;
    while (done < n) {
      const { bytesRead } = await this.#fh.read(buf, done, n - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === n ? buf : buf.subarray(0, done);
  }

  /** Closes the file (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }
}

/** Streams a file as fresh Buffers of `chunkBytes`, reading the next chunk while the consumer works on the current one. */
export async function* fileChunks(path: string, chunkBytes = FILE_STREAM_CHUNK_BYTES): AsyncGenerator<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw ioError(err, path);
  }
  let next: Promise<Buffer> | undefined;
  try {
    const readNext = async (): Promise<Buffer> => {
      const buf = Buffer.allocUnsafeSlow(chunkBytes);
      const { bytesRead } = await fh.read(buf, 0, chunkBytes, null);
      return bytesRead === chunkBytes ? buf : buf.subarray(0, bytesRead);
    };
    next = readNext();
    for (;;) {
      const chunk = await next;
      if (chunk.length === 0) return;
      next = readNext();
      yield chunk;
    }
  } finally {
    if (next) await next.catch(() => undefined);
    await fh.close();
  }
}
