// Async front end of the tar scanner: turns a stream of uncompressed tar chunks into entries with exact data offsets.
import { type TarScanOptions, TarScanner } from './tar-scanner.js';
import type { TarEntry } from './tar-entry.js';

export type { TarScanOptions } from './tar-scanner.js';

/**
 * Yields every entry of the uncompressed tar in `source`, in archive order. Data bytes are never copied or
 * inspected; offsets are exact. Throws ImageError CORRUPT / TRUNCATED / UNSUPPORTED / LIMIT_EXCEEDED with the offset.
 */
export async function* scanTar(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>, options: TarScanOptions = {}): AsyncGenerator<TarEntry> {
  const scanner = new TarScanner(options);
  for await (const chunk of source) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (const e of scanner.push(buf)) yield e;
  }
  for (const e of scanner.end()) yield e;
}

/**
 * Like scanTar but yields the entries completed by each input chunk as one array (skipping empty ones):
 * one await per chunk instead of one per entry, which matters for layers of many small files.
 */
export async function* scanTarBatches(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>, options: TarScanOptions = {}): AsyncGenerator<TarEntry[]> {
  const scanner = new TarScanner(options);
  for await (const chunk of source) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const batch = scanner.push(buf);
    if (batch.length > 0) yield batch;
  }
  const last = scanner.end();
  if (last.length > 0) yield last;
}

/** Scans a whole in-memory tar and returns its entries (convenience for tests and small layers). */
export function scanTarBuffer(tar: Buffer, options: TarScanOptions = {}): TarEntry[] {
  const scanner = new TarScanner(options);
  return [...scanner.push(tar), ...scanner.end()];
}
