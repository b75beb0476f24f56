// Opens an indexed image as a LazyBlockDevice: reference target -> image manifest -> index artifact (referrer) -> layers.
import { mkdtempSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';

import {
  DEFAULT_BACKSTORE_COALESCE_BYTES,
  DEFAULT_BACKSTORE_READAHEAD_SPANS,
  DEFAULT_BACKSTORE_READ_TIMEOUT_MS,
  DEFAULT_SPAN_CACHE_BYTES,
  DEFAULT_SPAN_DISK_CACHE_BYTES,
  SPAN_VERIFY_ATTEMPTS,
  BACKSTORE_CLOSE_WAIT_MS,
} from '../defaults.js';
import { ImageError } from '../errors.js';
import { DeviceBlockMap } from '../ext4/block-map.js';
import { decodeIndexArtifact, INDEX_ARTIFACT_TYPE, indexDescribesImage, type IndexArtifact } from '../format/artifact/index-artifact.js';
import { decodeExt4Delta } from '../format/ext4/delta-codec.js';
import { parseDigest } from '../format/oci/digest.js';
import type { ImageManifest, Platform } from '../format/oci/manifest.js';
import { decodeSeekIndex } from '../format/seek-index.js';
import { hostPlatform, resolveImageManifest } from '../registry/image-manifest.js';
import { readBlob, type ImageStore } from '../registry/image-store.js';
import { ByteLru } from '../seek/byte-lru.js';
import { selectEngine, type EngineChoice } from '../seek/engine-select.js';
import { downloadLayer, RateLimiter } from './background-fetch.js';
import { BackstoreMetrics } from './backstore-metrics.js';
import { LayerData } from './layer-data.js';
import { readReadTrace, TraceRecorder, writeReadTrace } from './read-trace.js';
import { LazyBlockDevice } from './lazy-device.js';
import { SpanDiskCache } from './span-disk-cache.js';
import { SpanFetcher } from './span-fetcher.js';

/** Options of openLazyImage. */
export interface OpenLazyImageOptions {
  /** Platform to pick from a multi-platform image (default: the host's). */
  platform?: Platform;
  /** Store holding the index artifact when it is not the image's own (default: the image store). */
  indexStore?: ImageStore;
  /** Digest of the index artifact to serve (default: the lowest digest among the image's index referrers). */
  indexDigest?: string;
  /** Persistent span cache directory; null disables the disk cache. Default: defaultSpanCacheDir(). */
  cacheDir?: string | null;
  cacheMaxBytes?: number;
  /** Decompressed span memory budget. */
  memoryCacheBytes?: number;
  /** Deadline of one device read (and of each range request). */
  readTimeoutMs?: number;
  maxCoalesceBytes?: number;
  readaheadSpans?: number;
  engine?: EngineChoice;
  /** Download whole layers in the background (rate in bytes/s, default unlimited), verify them, then serve from them. */
  backgroundFetch?: { bytesPerSecond?: number } | undefined;
  /** Record the device ranges read and write them to this file (read trace v1) when the device closes. */
  recordTrace?: string | undefined;
  /** Fetch the spans of this read trace right after open (before they are read). */
  prefetchTrace?: string | undefined;
  /** Close `store` (and indexStore) when the device closes. */
  closeStore?: boolean;
  /**
   * Serve only the chain of the first `layers` layers (1..layer count; default all): ext4 deltas 0..layers-1, so the
   * device is the filesystem of a lower image that shares these base layers.
   */
  layers?: number;
}

/** Default span cache: $TURBO_OCI_SPAN_CACHE_DIR, else $XDG_CACHE_HOME/turbo-oci/spans, else ~/.cache/turbo-oci/spans. */
export function defaultSpanCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TURBO_OCI_SPAN_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'turbo-oci', 'spans');
}

/**
 * The index artifact of `imageDigest`: `indexDigest` when given (fetched by digest: the one a caller recorded), else the
 * lowest digest among the image's referrers of type INDEX_ARTIFACT_TYPE; checked against the image's layers.
 */
export async function findIndexArtifact(store: ImageStore, imageDigest: string, manifest: ImageManifest, where: string, indexDigest?: string): Promise<{ digest: string; artifact: IndexArtifact }> {
  let d = indexDigest;
  if (d === undefined) {
    const listed = (await store.listReferrers(imageDigest, INDEX_ARTIFACT_TYPE)).map((r) => r.digest).sort();
    if (listed.length === 0) {
      throw new ImageError('NOT_FOUND', `image ${imageDigest} in ${where} has no turbo-oci index`, { details: { image: imageDigest }, hint: 'run turbo-index build on the image first' });
    }
    d = listed[0]!;
  }
  const artifact = decodeIndexArtifact((await store.getManifest(d)).bytes);
  if (!indexDescribesImage(artifact, imageDigest, manifest)) throw new ImageError('CORRUPT', `index ${d} does not describe the layers of image ${imageDigest}`, { details: { index: d, image: imageDigest } });
  return { digest: d, artifact };
}

/** The number of layers to serve: `requested` (default all) checked against the image's `count` (INVALID_ARGUMENT). */
function chainLength(requested: number | undefined, count: number, facts: { image: string; index: string }): number {
  if (requested === undefined) return count;
  if (!Number.isInteger(requested) || requested < 1 || requested > count) {
    throw new ImageError('INVALID_ARGUMENT', `cannot serve the first ${String(requested)} layers: the image has ${count}`, {
      details: { ...facts, layers: String(requested), layerCount: count },
      hint: `pass a whole number of layers from 1 to ${count} (--layers)`,
    });
  }
  return requested;
}

/** Opens the image `target` of `store` lazily; nothing of the layers is read until the device is. */
export async function openLazyImage(store: ImageStore, target: string, options: OpenLazyImageOptions = {}): Promise<LazyBlockDevice> {
  const indexStore = options.indexStore ?? store;
  const { manifest, result } = await resolveImageManifest(store, target, options.platform ?? hostPlatform());
  const imageDigest = result.descriptor.digest;
  const { digest: indexDigest, artifact } = await findIndexArtifact(indexStore, imageDigest, manifest, store.location, options.indexDigest);
  const chain = artifact.layers.slice(0, chainLength(options.layers, artifact.layers.length, { image: imageDigest, index: indexDigest }));
  const metrics = new BackstoreMetrics();
  const cacheDir = options.cacheDir === undefined ? defaultSpanCacheDir() : options.cacheDir;
  let diskCache: SpanDiskCache | undefined;
  try {
    if (cacheDir !== null) diskCache = new SpanDiskCache(cacheDir, options.cacheMaxBytes ?? DEFAULT_SPAN_DISK_CACHE_BYTES, () => metrics.diskCacheCorrupt++);
  } catch (err) {
    if (options.cacheDir !== undefined) throw err; // an explicit directory must work; the default one is best effort
  }
  const spanCache = new ByteLru<string>(options.memoryCacheBytes ?? DEFAULT_SPAN_CACHE_BYTES);
  const engine = selectEngine(options.engine ?? 'auto');
  const timeoutMs = options.readTimeoutMs ?? DEFAULT_BACKSTORE_READ_TIMEOUT_MS;
  const map = new DeviceBlockMap(artifact.deviceBytes);
  const layers: LayerData[] = [];
  // Every layer's index blobs at once (they are small); then decoded and stacked in layer order.
  const blobs = await Promise.all(chain.map((l) => Promise.all([readBlob(indexStore, l.seekIndex.digest, l.seekIndex.size), readBlob(indexStore, l.ext4Delta.digest, l.ext4Delta.size)])));
  for (const [position, layer] of chain.entries()) {
    const [seekBlob, deltaBlob] = blobs[position]!;
    const index = decodeSeekIndex(seekBlob);
    if (index.layerSha256.toString('hex') !== parseDigest(layer.digest).hex || index.compressedBytes !== layer.size || index.uncompressedBytes !== layer.uncompressedBytes) {
      throw new ImageError('CORRUPT', `the seek index of layer ${position} does not describe layer ${layer.digest}`, { details: { index: indexDigest, layer: layer.digest } });
    }
    const delta = decodeExt4Delta(deltaBlob);
    if (delta.layer !== position) throw new ImageError('CORRUPT', `the ext4 delta of layer ${position} says it is layer ${delta.layer}`, { details: { index: indexDigest } });
    map.apply(delta);
    const fetcher = new SpanFetcher({
      store,
      layerDigest: layer.digest,
      index,
      metrics,
      diskCache,
      maxCoalesceBytes: options.maxCoalesceBytes ?? DEFAULT_BACKSTORE_COALESCE_BYTES,
      verifyAttempts: SPAN_VERIFY_ATTEMPTS,
      requestTimeoutMs: timeoutMs,
      readaheadMemoryBytes: 8 * 1024 * 1024,
    });
    const readaheadSpans = options.readaheadSpans ?? DEFAULT_BACKSTORE_READAHEAD_SPANS;
    layers.push(new LayerData({ position, layerDigest: layer.digest, index, fetcher, engine, spanCache, metrics, readaheadSpans, store, requestTimeoutMs: timeoutMs }));
  }
  const info = {
    imageDigest,
    indexDigest,
    layers: chain.map((l) => ({ digest: l.digest, compressedBytes: l.size, uncompressedBytes: l.uncompressedBytes, spans: l.points })),
  };
  const ac = new AbortController();
  let background: Promise<void> | undefined;
  let tempLayers: string | undefined;
  const handles: FileHandle[] = [];
  if (options.backgroundFetch) {
    const dir = diskCache ? path.join(diskCache.dir, 'layers') : (tempLayers = mkdtempSync(path.join(tmpdir(), 'turbo-oci-layers-')));
    const limiter = options.backgroundFetch.bytesPerSecond ? new RateLimiter(options.backgroundFetch.bytesPerSecond) : undefined;
    background = fetchLayersInBackground(store, chain, layers, { dir, metrics, limiter, signal: ac.signal, handles });
    background.catch(() => undefined);
  }
  const onClose = async (): Promise<void> => {
    ac.abort();
    await background?.catch(() => undefined);
    await Promise.all(layers.map((l) => l.fetcher.close()));
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    if (tempLayers) rmSync(tempLayers, { recursive: true, force: true });
    if (options.recordTrace && device.recorder) await writeReadTrace(options.recordTrace, device.recorder.trace(imageDigest));
    if (!options.closeStore) return;
    // Range requests abandoned at their deadline may still be running (a trickling registry); do not wait for them.
    const stores = [store, ...(options.indexStore && options.indexStore !== store ? [options.indexStore] : [])];
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, BACKSTORE_CLOSE_WAIT_MS).unref()));
    await Promise.race([Promise.all(stores.map((s) => s.close().catch(() => undefined))), bound]);
    clearTimeout(timer);
  };
  const device = new LazyBlockDevice(map, layers, metrics, info, timeoutMs, onClose);
  device.backgroundFetch = background;
  if (options.recordTrace) device.recorder = new TraceRecorder();
  if (options.prefetchTrace) {
    const trace = await readReadTrace(options.prefetchTrace);
    if (trace.image !== imageDigest) {
      await device.close();
      throw new ImageError('FAILED_PRECONDITION', `the trace ${options.prefetchTrace} was recorded on image ${trace.image}, not ${imageDigest}`);
    }
    device.prefetchDone = device.prefetch(trace.ranges);
  }
  return device;
}

/** Downloads every layer (two at a time), then switches its reads to the local copy; rejects with the first failure. */
async function fetchLayersInBackground(
  store: ImageStore,
  indexed: IndexArtifact['layers'],
  layers: LayerData[],
  o: { dir: string; metrics: BackstoreMetrics; limiter: RateLimiter | undefined; signal: AbortSignal; handles: FileHandle[] },
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < indexed.length && !o.signal.aborted) {
      const position = next++;
      const l = indexed[position]!;
      const file = await downloadLayer({ store, digest: l.digest, size: l.size, dir: o.dir, metrics: o.metrics, limiter: o.limiter, signal: o.signal });
      const layer = layers[position]!;
      if (layer.index.identity) {
        const handle = await open(file, 'r');
        o.handles.push(handle);
        layer.local = {
          read: async (offset, length) => {
            const buf = Buffer.alloc(length);
            const { bytesRead } = await handle.read(buf, 0, length, offset);
            if (bytesRead !== length) throw new ImageError('TRUNCATED', 'local layer copy is shorter than expected', { details: { file, offset, length } });
            return buf;
          },
        };
      } else layer.fetcher.useLocalCopy(file);
      o.metrics.layersLocal++;
    }
  };
  await Promise.all([worker(), worker()]);
}
