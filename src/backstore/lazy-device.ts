// The lazy block device: the merged ext4 map of an indexed image, metadata from delta blobs, data from verified spans.
import { performance } from 'node:perf_hooks';

import { ImageError, isImageError } from '../errors.js';
import type { DeviceBlockMap } from '../ext4/block-map.js';
import type { BlockDevice } from '../format/block-device.js';
import type { BackstoreMetrics } from './backstore-metrics.js';
import { withDeadline } from './deadline.js';
import { findSpan } from '../format/seek-index.js';
import type { LayerData } from './layer-data.js';
import type { TraceRecorder } from './read-trace.js';

/** Facts about an opened image, for messages and `--json` output. */
export interface LazyImageInfo {
  /** Digest of the image manifest served. */
  imageDigest: string;
  /** Digest of the index artifact used. */
  indexDigest: string;
  layers: { digest: string; compressedBytes: number; uncompressedBytes: number; spans: number }[];
}

/** A read-only BlockDevice over an indexed image; reads past `readTimeoutMs` fail TIMEOUT instead of hanging. */
export class LazyBlockDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly blockBytes = 4096;
  readonly info: LazyImageInfo;
  readonly metrics: BackstoreMetrics;
  readonly layers: readonly LayerData[];
  /** With a prefetch trace: settles when its spans are fetched. */
  prefetchDone: Promise<void> | undefined;
  /** When set, every read is recorded (see read-trace.ts). */
  recorder: TraceRecorder | undefined;
  /** With background fetch: settles when every layer is local (rejects with the first download failure). */
  backgroundFetch: Promise<void> | undefined;
  readonly #map: DeviceBlockMap;
  readonly #timeoutMs: number;
  readonly #onClose: () => Promise<void>;
  #closed = false;

  constructor(map: DeviceBlockMap, layers: LayerData[], metrics: BackstoreMetrics, info: LazyImageInfo, readTimeoutMs: number, onClose: () => Promise<void>) {
    this.sizeBytes = map.deviceBytes;
    this.#map = map;
    this.layers = layers;
    this.metrics = metrics;
    this.info = info;
    this.#timeoutMs = readTimeoutMs;
    this.#onClose = onClose;
  }

  /** The merged device map (which device bytes are metadata, which layer's tar, which zero). */
  get map(): DeviceBlockMap {
    return this.#map;
  }

  /** Exactly `length` device bytes at `offset` (see BlockDevice.read). */
  async read(offset: number, length: number): Promise<Buffer> {
    if (this.#closed) throw new ImageError('FAILED_PRECONDITION', 'the device is closed');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.sizeBytes) {
      throw new ImageError('INVALID_ARGUMENT', 'read outside the device', { details: { offset, length, deviceBytes: this.sizeBytes } });
    }
    const t0 = performance.now();
    this.recorder?.add(offset, length);
    try {
      const out = await withDeadline(this.#assemble(offset, length), this.#timeoutMs, () => ({ message: `device read did not complete within ${this.#timeoutMs} ms`, details: { offset, length } }));
      this.metrics.observeRead((performance.now() - t0) / 1000, length);
      return out;
    } catch (err) {
      this.metrics.readErrors++;
      if (isImageError(err, 'TIMEOUT')) this.metrics.readTimeouts++;
      throw err;
    }
  }

  async #assemble(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    const jobs: Promise<void>[] = [];
    let pos = 0;
    for (const piece of this.#map.read(offset, length)) {
      const at = pos;
      if (piece.kind === 'bytes') {
        piece.data.copy(out, at);
        pos += piece.data.length;
      } else if (piece.kind === 'zero') {
        pos += piece.length;
      } else {
        const layer = this.layers[piece.layer];
        if (!layer) throw new ImageError('CORRUPT', 'the device map names a layer the index does not have', { details: { layer: piece.layer } });
        jobs.push(layer.read(piece.tarOffset, piece.length).then((b) => void b.copy(out, at)));
        pos += piece.length;
      }
    }
    await Promise.all(jobs);
    return out;
  }

  /**
   * Fetches (compressed, into the disk cache or readahead memory) every span the device ranges need, in order;
   * resolves when they are done (failures are ignored: a later read fetches again). Metadata and zeros need nothing.
   */
  async prefetch(ranges: readonly [number, number][]): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const [offset, length] of ranges) {
      if (offset < 0 || offset + length > this.sizeBytes) continue;
      for (const piece of this.#map.read(offset, length)) {
        if (piece.kind !== 'tar') continue;
        const layer = this.layers[piece.layer];
        if (!layer || layer.index.identity) continue;
        const pts = layer.index.points;
        for (let i = findSpan(layer.index, piece.tarOffset); i < pts.length && pts[i]!.uncompressedOffset < piece.tarOffset + piece.length; i++) jobs.push(layer.fetcher.prefetch(i));
      }
    }
    await Promise.all(jobs);
  }

  /** Releases the store and caches. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#onClose();
  }
}
