// Verifies a published index: its blobs against their digests and each other, then a rebuild compared byte for byte.
import { ImageError } from '../../src/errors.js';
import type { InflateEngine } from '../../src/seek/inflate-engine.js';
import type { ImageStore } from '../../src/registry/image-store.js';
import { buildIndex, type LayerProgress } from './build-index.js';
import { loadPublishedParts, type PublishedIndex } from './published-index.js';
import type { ResolvedImage } from './resolve-image.js';

/** Options of verifyIndex. */
export interface VerifyIndexOptions {
  /** Rebuild from the layers themselves (each downloaded and digest-checked) instead of the published seek indexes and entry tables. */
  full?: boolean;
  engine?: InflateEngine;
  signal?: AbortSignal;
  onProgress?: (p: LayerProgress) => void;
}

/** A successful verification. */
export interface VerifyResult {
  index: string;
  subject: string;
  layers: number;
  blobs: number;
  mode: 'parts' | 'full';
  ms: number;
}

/**
 * Checks `published` (stored in `indexStore`) against `image` (in `imageStore`): same layers, every blob present with
 * its digest and size, blobs consistent with the annotations, and a rebuild that yields the same manifest and blobs
 * byte for byte. Without `full` the rebuild reuses the published seek indexes and entry tables (recomputing the ext4
 * deltas, chain IDs and the manifest); with `full` it reads every layer. CORRUPT on any difference.
 */
export async function verifyIndex(imageStore: ImageStore, indexStore: ImageStore, image: ResolvedImage, published: PublishedIndex, options: VerifyIndexOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const a = published.artifact;
  const layers = image.parsed.layers;
  const mismatch = layers.length !== a.layers.length || layers.some((l, i) => l.digest !== a.layers[i]!.digest || l.size !== a.layers[i]!.size || l.mediaType !== a.layers[i]!.mediaType);
  if (mismatch || a.subject.digest !== image.manifest.descriptor.digest) {
    throw new ImageError('CORRUPT', `index ${published.descriptor.digest} does not describe the layers of ${image.manifest.descriptor.digest}`, { details: { index: published.descriptor.digest } });
  }
  const { parts, blobs } = await loadPublishedParts(indexStore, published);
  const rebuilt = await buildIndex(imageStore, image, {
    spanBytes: a.spanBytes,
    deviceBytes: a.deviceBytes,
    buildTool: a.buildTool,
    ...(options.full ? {} : { known: parts }),
    ...(options.engine ? { engine: options.engine } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  for (const [i, layer] of rebuilt.artifact.layers.entries()) {
    const original = a.layers[i]!;
    for (const kind of ['seekIndex', 'ext4Delta', 'entryTable'] as const) {
      const mine = rebuilt.blobs.get(layer[kind].digest)!;
      const theirs = blobs.get(original[kind].digest);
      if (!theirs || !mine.equals(theirs)) {
        throw new ImageError('CORRUPT', `index ${published.descriptor.digest}: the ${kind} of layer ${i} differs from a rebuild`, {
          details: { position: i, layer: layer.digest, published: original[kind].digest, rebuilt: layer[kind].digest },
        });
      }
    }
  }
  if (!rebuilt.manifestBytes.equals(published.bytes)) {
    throw new ImageError('CORRUPT', `index ${published.descriptor.digest}: the manifest differs from a rebuild`, { details: { published: published.descriptor.digest, rebuilt: rebuilt.digest } });
  }
  return { index: published.descriptor.digest, subject: a.subject.digest, layers: layers.length, blobs: blobs.size, mode: options.full ? 'full' : 'parts', ms: Math.round(performance.now() - started) };
}
