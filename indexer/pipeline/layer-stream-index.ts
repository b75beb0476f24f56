// Indexes one layer blob in a single read: seek points (inflate engine) and, on a parallel gunzip of the same chunks, the tar scan and the diffID.
import { createHash } from 'node:crypto';
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { BUILD_GUNZIP_CHUNK_BYTES } from '../../src/defaults.js';
import { ImageError, isImageError } from '../../src/errors.js';
import { parseDigest } from '../../src/format/oci/digest.js';
import { encodeSeekIndex } from '../../src/format/seek-index.js';
import type { InflateEngine } from '../../src/seek/inflate-engine.js';
import { encodeEntryTable, type EntryTable } from '../artifact/entry-table.js';
import { buildSeekIndex } from '../seek/seek-index-builder.js';
import { TarScanner } from '../tar/tar-scanner.js';
import type { TarEntry, TarWarning } from '../tar/tar-entry.js';

/** Options of indexLayerStream. */
export interface LayerStreamOptions {
  /** The layer descriptor's digest and size: the bytes must match both (CORRUPT otherwise). */
  digest: string;
  size: number;
  spanBytes: number;
  engine: InflateEngine;
  signal?: AbortSignal;
  /** Called with the byte count of every chunk read. */
  onBytes?: (bytes: number) => void;
  onWarning?: (warning: TarWarning) => void;
}

/** A layer's index parts. */
export interface LayerStreamIndex {
  seekIndexBlob: Buffer;
  points: number;
  uncompressedBytes: number;
  entryTable: EntryTable;
  entryTableBlob: Buffer;
  /** True for a gzip layer, false for a plain tar. */
  gzip: boolean;
}

/** Resolves on 'drain', rejects when the stream fails or closes first. */
function drained(stream: Transform): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.off('drain', onDrain).off('error', done).off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new ImageError('INTERNAL', 'tar stream closed while the layer was being read'));
    stream.on('drain', onDrain).on('error', done).on('close', onClose);
  });
}

/**
 * Reads `source` (the layer blob) exactly once. Each chunk goes to the seek index builder and to a node:zlib gunzip
 * (a PassThrough for plain tar) whose output is hashed (diffID) and scanned for tar entries. The seek builder does not
 * expose its inflated bytes, so the layer is inflated twice, on two threads (the native engine's worker and libuv's pool).
 */
export async function indexLayerStream(source: AsyncIterable<Uint8Array>, options: LayerStreamOptions): Promise<LayerStreamIndex> {
  const iterator = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 2) {
    const r = await iterator.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const sink: Transform = gzip ? createGunzip({ chunkSize: BUILD_GUNZIP_CHUNK_BYTES }) : new PassThrough();
  const diffHash = createHash('sha256');
  const entries: TarEntry[] = [];
  const scanner = new TarScanner(options.onWarning ? { onWarning: options.onWarning } : {});
  let tarBytes = 0;
  const scanned = new Promise<void>((resolve, reject) => {
    sink.on('data', (chunk: Buffer) => {
      try {
        diffHash.update(chunk);
        tarBytes += chunk.length;
        for (const e of scanner.push(chunk)) entries.push(e);
      } catch (err) {
        sink.destroy(err as Error);
      }
    });
    sink.on('end', () => {
      try {
        for (const e of scanner.end()) entries.push(e);
        resolve();
      } catch (err) {
        reject(err);
      }
    });
    sink.on('error', (err) => {
      reject(isImageError(err) ? err : new ImageError('CORRUPT', `layer ${options.digest} does not decompress: ${err.message}`, { details: { digest: options.digest }, cause: err }));
    });
  });
  scanned.catch(() => undefined);

  let read = 0;
  async function* feed(): AsyncGenerator<Buffer> {
    const pass = async (chunk: Buffer): Promise<void> => {
      options.signal?.throwIfAborted();
      read += chunk.length;
      options.onBytes?.(chunk.length);
      if (!sink.write(chunk)) await drained(sink);
    };
    if (head.length > 0) {
      await pass(head);
      yield head;
    }
    while (!ended) {
      const r = await iterator.next();
      if (r.done) break;
      const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      await pass(chunk);
      yield chunk;
    }
    sink.end();
  }

  try {
    const [index] = await Promise.all([buildSeekIndex(feed(), { spanBytes: options.spanBytes, engine: options.engine }), scanned]);
    const expected = parseDigest(options.digest);
    if (read !== options.size || (expected.algorithm === 'sha256' && index.layerSha256.toString('hex') !== expected.hex)) {
      throw new ImageError('CORRUPT', `layer blob ${options.digest} does not match its descriptor`, {
        details: { digest: options.digest, expectedSize: options.size, size: read, actual: `sha256:${index.layerSha256.toString('hex')}` },
      });
    }
    if (index.uncompressedBytes !== tarBytes) {
      throw new ImageError('INTERNAL', 'gunzip and the seek index disagree on the uncompressed size', { details: { digest: options.digest, seek: index.uncompressedBytes, gunzip: tarBytes } });
    }
    const entryTable: EntryTable = { diffId: `sha256:${diffHash.digest('hex')}`, tarBytes, entries };
    return { seekIndexBlob: encodeSeekIndex(index), points: index.points.length, uncompressedBytes: tarBytes, entryTable, entryTableBlob: encodeEntryTable(entryTable), gzip };
  } catch (err) {
    sink.destroy();
    // Bad content is usually a bad blob: read on to the end, where the store's digest check names the real cause.
    if (isImageError(err) && (err.code === 'CORRUPT' || err.code === 'TRUNCATED') && !options.signal?.aborted) {
      try {
        for (let r = await iterator.next(); !r.done; r = await iterator.next()) options.signal?.throwIfAborted();
      } catch (storeErr) {
        if (isImageError(storeErr, 'CORRUPT')) throw storeErr;
      }
    }
    await iterator.return?.();
    throw err;
  }
}
