// Builds the index artifact of one image manifest: layer parts in parallel (shared, cached, published or streamed once), ext4 deltas in layer order.
import { availableParallelism } from 'node:os';

import { DEFAULT_EXT4_DEVICE_BYTES } from '../../src/defaults.js';
import { ImageError, isImageError } from '../../src/errors.js';
import { chainIds } from '../../src/format/artifact/chain-id.js';
import { encodeIndexArtifact, type IndexArtifact, type IndexedLayer } from '../../src/format/artifact/index-artifact.js';
import { encodeExt4Delta } from '../../src/format/ext4/delta-codec.js';
import { sha256Digest } from '../../src/format/oci/digest.js';
import type { Descriptor } from '../../src/format/oci/manifest.js';
import { selectEngine } from '../../src/seek/engine-select.js';
import type { InflateEngine } from '../../src/seek/inflate-engine.js';
import type { ImageStore } from '../../src/registry/image-store.js';
import { readBlob } from '../../src/registry/image-store.js';
import { Ext4ChainWriter } from '../ext4/chain-writer.js';
import { applyLayer } from '../layer/apply-layer.js';
import { FsTree } from '../tree/tree-model.js';
import type { IndexCache } from './index-cache.js';
import { checkStoredParts, partsKey, type LayerParts, type PartsSource } from './layer-parts.js';
import { indexLayerStream } from './layer-stream-index.js';
import type { ResolvedImage } from './resolve-image.js';

/** Build tool name written into every index. */
export const BUILD_TOOL = 'turbo-index/0.1.0';

/** A progress report of one layer. */
export interface LayerProgress {
  position: number;
  digest: string;
  bytes: number;
  total: number;
  state: 'reading' | 'done';
  source?: PartsSource;
}

/** Options of buildIndex. */
export interface BuildIndexOptions {
  spanBytes: number;
  deviceBytes?: number;
  engine?: InflateEngine;
  /** Local cache consulted before reading a layer and filled after. */
  cache?: IndexCache;
  /** Parts known up front (e.g. from published indexes), by partsKey. */
  known?: Map<string, LayerParts>;
  /** Consulted after the cache, before reading the layer (e.g. indexes of other images of the repository). */
  lookup?: (layer: Descriptor, spanBytes: number) => Promise<LayerParts | undefined>;
  /** In-flight parts shared by concurrent builds in one process, by partsKey. */
  inflight?: Map<string, Promise<LayerParts>>;
  /** Layers read at once (default: the core count). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: LayerProgress) => void;
  buildTool?: string;
}

/** Per-layer facts of a build. */
export interface LayerStats {
  position: number;
  digest: string;
  mediaType: string;
  size: number;
  uncompressedBytes: number;
  entries: number;
  points: number;
  source: PartsSource;
  seekIndexBytes: number;
  ext4DeltaBytes: number;
  entryTableBytes: number;
  /** Time to obtain the parts (read + index, or cache/published lookup). */
  partsMs: number;
  deltaMs: number;
}

/** A built (not yet published) index. */
export interface BuiltIndex {
  image: ResolvedImage;
  artifact: IndexArtifact;
  manifestBytes: Buffer;
  digest: string;
  /** Every blob of the artifact by digest. */
  blobs: Map<string, Buffer>;
  layers: LayerStats[];
  totalMs: number;
}

/** Layer media types we can index: gzip or plain tar (OCI and Docker, distributable or not). */
function checkLayerType(layer: Descriptor, position: number): void {
  const t = layer.mediaType;
  if (/zstd/.test(t)) {
    throw new ImageError('UNSUPPORTED', `layer ${position} (${layer.digest}) is zstd-compressed: zstd layers cannot be lazily loaded by a gzip seek index, so the image cannot be indexed`, {
      details: { position, digest: layer.digest, mediaType: t },
      hint: 'rebuild the image with gzip or uncompressed layers',
    });
  }
  if (!/(^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+gzip)?$)|(^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?$)/.test(t)) {
    throw new ImageError('UNSUPPORTED', `layer ${position} (${layer.digest}) has media type ${t}, not a tar or tar+gzip layer`, { details: { position, digest: layer.digest, mediaType: t } });
  }
}

/** A counting semaphore. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

async function obtainParts(store: ImageStore, layer: Descriptor, position: number, o: BuildIndexOptions & { engine: InflateEngine; signal: AbortSignal }, limit: ReturnType<typeof limiter>): Promise<LayerParts> {
  const key = partsKey(layer.digest, o.spanBytes);
  const known = o.known?.get(key);
  if (known) return known;
  const cached = o.cache?.get(layer.digest, o.spanBytes);
  if (cached) {
    try {
      return checkStoredParts(cached.seekIndexBlob, cached.entryTableBlob, layer, o.spanBytes, 'cache');
    } catch (err) {
      if (!isImageError(err)) throw err;
      o.cache!.delete(layer.digest, o.spanBytes);
    }
  }
  const found = await o.lookup?.(layer, o.spanBytes);
  if (found) {
    o.cache?.put(layer.digest, o.spanBytes, { seekIndexBlob: found.seekIndexBlob, entryTableBlob: found.entryTableBlob, points: found.points });
    return found;
  }
  return limit(async () => {
    o.signal.throwIfAborted();
    let bytes = 0;
    const report = (state: LayerProgress['state']): void => o.onProgress?.({ position, digest: layer.digest, bytes, total: layer.size, state });
    report('reading');
    const blob = await store.getBlob(layer.digest, layer.size);
    try {
      const r = await indexLayerStream(blob, {
        digest: layer.digest,
        size: layer.size,
        spanBytes: o.spanBytes,
        engine: o.engine,
        signal: o.signal,
        onBytes: (n) => {
          bytes += n;
          report('reading');
        },
      });
      report('done');
      o.cache?.put(layer.digest, o.spanBytes, { seekIndexBlob: r.seekIndexBlob, entryTableBlob: r.entryTableBlob, points: r.points });
      return { seekIndexBlob: r.seekIndexBlob, entryTableBlob: r.entryTableBlob, entryTable: r.entryTable, points: r.points, source: 'downloaded' as const };
    } catch (err) {
      // Name the layer in every error about its content (tar, gzip), keeping code and facts.
      if (!isImageError(err) || err.message.includes(layer.digest)) throw err;
      throw new ImageError(err.code, `layer ${position} (${layer.digest}): ${err.message}`, { details: { ...err.details, layer: layer.digest }, ...(err.hint ? { hint: err.hint } : {}), cause: err });
    } finally {
      blob.destroy();
    }
  });
}

/** Checks computed diffIDs against the image config's rootfs.diff_ids (when the config has them). */
async function checkDiffIds(store: ImageStore, image: ResolvedImage, diffIds: string[]): Promise<void> {
  const config = image.parsed.config;
  let parsed: { rootfs?: { diff_ids?: unknown } };
  try {
    parsed = JSON.parse((await readBlob(store, config.digest, config.size)).toString('utf8')) as typeof parsed;
  } catch (err) {
    if (isImageError(err)) throw err;
    return;
  }
  const listed = parsed.rootfs?.diff_ids;
  if (!Array.isArray(listed)) return;
  if (listed.length !== diffIds.length) {
    throw new ImageError('CORRUPT', 'the image config lists a different number of diff_ids than the manifest has layers', { details: { config: listed.length, layers: diffIds.length } });
  }
  diffIds.forEach((d, i) => {
    if (listed[i] !== d) throw new ImageError('CORRUPT', `layer ${i} uncompresses to ${d} but the config says ${String(listed[i])}`, { details: { position: i, computed: d, config: String(listed[i]) } });
  });
}

/**
 * Builds the index of `image` (read from `store`). Parts of each layer come from `known`, `inflight`, the cache, or one
 * streamed read of the layer (at most `concurrency` at once); ext4 deltas are written in layer order as parts arrive.
 * The first failure aborts the other layer reads. Nothing is published.
 */
export async function buildIndex(store: ImageStore, image: ResolvedImage, options: BuildIndexOptions): Promise<BuiltIndex> {
  const started = performance.now();
  const layers = image.parsed.layers;
  layers.forEach(checkLayerType);
  const inner = new AbortController();
  const relay = (): void => inner.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', relay, { once: true });
  if (options.signal?.aborted) relay();
  const o = { ...options, engine: options.engine ?? selectEngine('auto'), signal: inner.signal };
  const limit = limiter(Math.max(1, options.concurrency ?? availableParallelism()));
  const deviceBytes = options.deviceBytes ?? DEFAULT_EXT4_DEVICE_BYTES;
  const timings: number[] = [];
  let firstError: unknown;
  const tasks = layers.map((layer, i) => {
    const key = partsKey(layer.digest, o.spanBytes);
    const t0 = performance.now();
    let task = o.inflight?.get(key);
    if (task) task = task.then((p) => ({ ...p, source: 'shared' as const }));
    else {
      task = obtainParts(store, layer, i, o, limit);
      o.inflight?.set(key, task);
      task.catch(() => o.inflight?.delete(key));
    }
    const timed = task.then((p) => {
      timings[i] = performance.now() - t0;
      return p;
    });
    timed.catch((err: unknown) => {
      firstError ??= err;
      inner.abort();
    });
    return timed;
  });
  try {
    const tree = new FsTree();
    const writer = new Ext4ChainWriter({ deviceBytes });
    const deltas: Buffer[] = [];
    const deltaMs: number[] = [];
    const parts: LayerParts[] = [];
    for (let i = 0; i < layers.length; i++) {
      const p = await tasks[i]!;
      parts.push(p);
      const t0 = performance.now();
      await applyLayer(tree, p.entryTable.entries, i);
      deltas.push(encodeExt4Delta(writer.writeLayer(tree.root, i)));
      deltaMs.push(performance.now() - t0);
      o.signal.throwIfAborted();
    }
    const diffIds = parts.map((p) => p.entryTable.diffId);
    await checkDiffIds(store, image, diffIds);
    const chain = chainIds(diffIds);
    const blobs = new Map<string, Buffer>();
    const ref = (bytes: Buffer): { digest: string; size: number } => {
      const digest = sha256Digest(bytes);
      blobs.set(digest, bytes);
      return { digest, size: bytes.length };
    };
    const indexed: IndexedLayer[] = layers.map((layer, i) => ({
      digest: layer.digest,
      mediaType: layer.mediaType,
      size: layer.size,
      diffId: diffIds[i]!,
      chainId: chain[i]!,
      uncompressedBytes: parts[i]!.entryTable.tarBytes,
      points: parts[i]!.points,
      seekIndex: ref(parts[i]!.seekIndexBlob),
      ext4Delta: ref(deltas[i]!),
      entryTable: ref(parts[i]!.entryTableBlob),
    }));
    const d = image.manifest.descriptor;
    const artifact: IndexArtifact = {
      subject: { mediaType: d.mediaType, digest: d.digest, size: d.size },
      spanBytes: o.spanBytes,
      deviceBytes,
      buildTool: options.buildTool ?? BUILD_TOOL,
      layers: indexed,
    };
    const manifestBytes = encodeIndexArtifact(artifact);
    const stats: LayerStats[] = layers.map((layer, i) => ({
      position: i,
      digest: layer.digest,
      mediaType: layer.mediaType,
      size: layer.size,
      uncompressedBytes: parts[i]!.entryTable.tarBytes,
      entries: parts[i]!.entryTable.entries.length,
      points: parts[i]!.points,
      source: parts[i]!.source,
      seekIndexBytes: parts[i]!.seekIndexBlob.length,
      ext4DeltaBytes: deltas[i]!.length,
      entryTableBytes: parts[i]!.entryTableBlob.length,
      partsMs: Math.round(timings[i] ?? 0),
      deltaMs: Math.round(deltaMs[i]!),
    }));
    return { image, artifact, manifestBytes, digest: sha256Digest(manifestBytes), blobs, layers: stats, totalMs: Math.round(performance.now() - started) };
  } catch (err) {
    firstError ??= err;
    inner.abort();
    await Promise.allSettled(tasks);
    throw options.signal?.aborted && !isImageError(firstError) ? options.signal.reason : firstError;
  } finally {
    options.signal?.removeEventListener('abort', relay);
  }
}
