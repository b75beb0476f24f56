// Indexes one layer blob in a single read and a single inflate: seek points, and from the same output the tar scan and the diffID.
import { createHash } from 'node:crypto';

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

/**
 * Reads `source` (the layer blob) exactly once and inflates it once: the seek index builder hands its uncompressed
 * output (the input chunks for a plain tar) to the diffID hash and the tar scanner while the engine inflates the
 * next chunk (on the native engine's worker thread).
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
  const diffHash = createHash('sha256');
  const entries: TarEntry[] = [];
  const scanner = new TarScanner(options.onWarning ? { onWarning: options.onWarning } : {});
  let tarBytes = 0;
  const onUncompressed = (chunk: Buffer): void => {
    diffHash.update(chunk);
    tarBytes += chunk.length;
    for (const e of scanner.push(chunk)) entries.push(e);
  };

  let read = 0;
  async function* feed(): AsyncGenerator<Buffer> {
    const pass = (chunk: Buffer): void => {
      options.signal?.throwIfAborted();
      read += chunk.length;
      options.onBytes?.(chunk.length);
    };
    if (head.length > 0) {
      pass(head);
      yield head;
    }
    while (!ended) {
      const r = await iterator.next();
      if (r.done) break;
      const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      pass(chunk);
      yield chunk;
    }
  }

  try {
    const index = await buildSeekIndex(feed(), { spanBytes: options.spanBytes, engine: options.engine, onUncompressed });
    for (const e of scanner.end()) entries.push(e);
    const expected = parseDigest(options.digest);
    if (read !== options.size || (expected.algorithm === 'sha256' && index.layerSha256.toString('hex') !== expected.hex)) {
      throw new ImageError('CORRUPT', `layer blob ${options.digest} does not match its descriptor`, {
        details: { digest: options.digest, expectedSize: options.size, size: read, actual: `sha256:${index.layerSha256.toString('hex')}` },
      });
    }
    if (index.uncompressedBytes !== tarBytes) {
      throw new ImageError('INTERNAL', 'the seek index and its emitted output disagree on the uncompressed size', { details: { digest: options.digest, seek: index.uncompressedBytes, emitted: tarBytes } });
    }
    const entryTable: EntryTable = { diffId: `sha256:${diffHash.digest('hex')}`, tarBytes, entries };
    return { seekIndexBlob: encodeSeekIndex(index), points: index.points.length, uncompressedBytes: tarBytes, entryTable, entryTableBlob: encodeEntryTable(entryTable), gzip };
  } catch (err) {
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
