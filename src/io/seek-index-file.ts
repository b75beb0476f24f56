// Seek index files on local disk: size-bounded read + decode, and an atomic write (temp file + rename).
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';

import { MAX_SEEK_INDEX_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';
import { decodeSeekIndex, encodeSeekIndex, type SeekIndex } from '../format/seek-index.js';

/** Reads and validates the seek index at `path` (NOT_FOUND, LIMIT_EXCEEDED, CORRUPT, UNSUPPORTED). */
export async function readSeekIndexFile(path: string): Promise<{ index: SeekIndex; bytes: number }> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new ImageError('NOT_FOUND', `no such index file: ${path}`, { details: { path }, cause: err });
  }
  if (size > MAX_SEEK_INDEX_BYTES) {
    throw new ImageError('LIMIT_EXCEEDED', 'index file is larger than any valid seek index', { details: { path, bytes: size } });
  }
  const buf = await readFile(path);
  try {
    return { index: decodeSeekIndex(buf), bytes: buf.length };
  } catch (err) {
    if (err instanceof ImageError) err.details.path = path;
    throw err;
  }
}

/** Encodes `index` and writes it to `path` atomically; resolves to the file size. */
export async function writeSeekIndexFile(path: string, index: SeekIndex): Promise<number> {
  const bytes = encodeSeekIndex(index);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new ImageError('UNAVAILABLE', `cannot write ${path}: ${(err as Error).message}`, { details: { path }, cause: err });
  }
  return bytes.length;
}
