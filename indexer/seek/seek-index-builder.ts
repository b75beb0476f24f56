// Builds a seek index in one streaming pass over a layer's bytes: gzip or plain detection, points, digests, layer sha256.
import { createHash } from 'node:crypto';

import { MIN_SPAN_BYTES, WINDOW_BYTES, WINDOW_ZSTD_LEVEL } from '../../src/defaults.js';
import { ImageError } from '../../src/errors.js';
import type { SeekIndex } from '../../src/format/seek-index.js';
import type { EngineIndexer, EngineSeekPoint, InflateEngine } from '../../src/seek/inflate-engine.js';
import { PointAssembler } from './point-assembler.js';

/** Options of buildSeekIndex. */
export interface BuildSeekIndexOptions {
  /** Minimum uncompressed distance between block-boundary points (>= MIN_SPAN_BYTES). */
  spanBytes: number;
  /** The inflate engine that finds the points. */
  engine: InflateEngine;
  /** zstd level for the stored windows (default WINDOW_ZSTD_LEVEL). */
  windowLevel?: number;
}

/** True when the first bytes are the gzip magic (RFC 1952 §2.3.1: ID1 0x1f, ID2 0x8b). */
function looksLikeGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Reads `chunks` once and returns the seek index of the layer. Gzip input (first bytes 1f 8b) gets points;
 * anything else gets an identity index. The layer sha256 is computed while the engine inflates (the native
 * engine runs on a worker thread, so hashing overlaps it). Errors: CORRUPT/TRUNCATED with details.offset.
 */
export async function buildSeekIndex(chunks: AsyncIterable<Buffer>, options: BuildSeekIndexOptions): Promise<SeekIndex> {
  const { spanBytes, engine } = options;
  const windowLevel = options.windowLevel ?? WINDOW_ZSTD_LEVEL;
  if (!Number.isSafeInteger(spanBytes) || spanBytes < MIN_SPAN_BYTES || spanBytes > 0xffffffff) {
    throw new ImageError('INVALID_ARGUMENT', `span must be an integer between ${MIN_SPAN_BYTES} and 4 GiB - 1`, { details: { spanBytes } });
  }
  const layerHash = createHash('sha256');
  const assembler = new PointAssembler(windowLevel);
  let total = 0;
  let head: Buffer | undefined = Buffer.alloc(0);
  let indexer: EngineIndexer | undefined;
  let identity = false;

  // Pipeline: the engine inflates chunk k (on a worker thread for the native engine) while this thread
  // digests the points of chunk k-1 (zstd windows, span sha256) and hashes chunk k.
  let inflight: Promise<EngineSeekPoint[]> | undefined;
  const drain = async (): Promise<void> => {
    if (!inflight) return;
    const points = await inflight;
    inflight = undefined;
    for (const p of points) assembler.addPoint(p);
  };
  const feed = async (chunk: Buffer): Promise<void> => {
    if (identity) {
      layerHash.update(chunk);
      return;
    }
    const previous = inflight;
    inflight = undefined;
    const earlier = previous ? await previous : [];
    inflight = indexer!.push(chunk);
    // Mark as handled now: it is awaited only after the next chunk arrives.
    inflight.catch(() => undefined);
    assembler.appendBytes(chunk);
    for (const p of earlier) assembler.addPoint(p);
    layerHash.update(chunk);
  };

  try {
    for await (const raw of chunks) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      if (chunk.length === 0) continue;
      total += chunk.length;
      if (head !== undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 2) continue;
        identity = !looksLikeGzip(head);
        if (!identity) indexer = engine.createIndexer(spanBytes);
        const first = head;
        head = undefined;
        await feed(first);
        continue;
      }
      await feed(chunk);
    }
    if (head !== undefined) {
      identity = true;
      layerHash.update(head);
    }
    const layerSha256 = layerHash.digest();
    if (identity) {
      return {
        identity: true,
        spanBytes,
        windowBytes: WINDOW_BYTES,
        windowLevel,
        compressedBytes: total,
        uncompressedBytes: total,
        trailingZeroBytes: 0,
        members: 0,
        layerSha256,
        points: [],
      };
    }
    await drain();
    const summary = await indexer!.finish();
    if (summary.compressedBytes !== total) {
      throw new ImageError('INTERNAL', 'engine consumed a different number of bytes than were read', {
        details: { engine: engine.name, read: total, consumed: summary.compressedBytes },
      });
    }
    const points = assembler.finish(summary.compressedBytes - summary.trailingZeroBytes);
    return {
      identity: false,
      spanBytes,
      windowBytes: WINDOW_BYTES,
      windowLevel,
      compressedBytes: summary.compressedBytes,
      uncompressedBytes: summary.uncompressedBytes,
      trailingZeroBytes: summary.trailingZeroBytes,
      members: summary.members,
      layerSha256,
      points,
    };
  } finally {
    // A failed run may leave a push in flight: let it settle before freeing the engine state.
    await inflight?.catch(() => undefined);
    indexer?.destroy();
  }
}
