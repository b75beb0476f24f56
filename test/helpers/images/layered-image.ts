// Images that extend a base image with small hand-made gzip layers (same base blobs, new config and manifest), pushed to any ImageStore or a test registry.
import { gzipSync } from 'node:zlib';

import { sha256Digest } from '../../../src/format/oci/digest.js';
import { encodeManifest, parseManifest, type Descriptor, type ImageManifest } from '../../../src/format/oci/manifest.js';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../../src/format/oci/media-types.js';
import { parseReference } from '../../../src/format/oci/reference.js';
import { readBlob, type ImageStore } from '../../../src/registry/image-store.js';
import { openImageStore } from '../../../src/registry/open-store.js';
import { FIXTURE_EPOCH_RFC3339 } from './debian-layers.js';
import { pushToRegistry } from './debian-image.js';
import { tarBytes, type TarEntrySpec } from './tar-writer.js';

/** One layer of a layered image: its descriptor, its diff ID and (for the added layers) the uncompressed tar. */
export interface LayeredImageLayer {
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
  /** The uncompressed tar of an added layer (undefined for the base image's layers). */
  tar?: Buffer;
}

/** An image made by appendLayers. */
export interface LayeredImage {
  /** Digest of the new image manifest. */
  manifestDigest: string;
  /** Base layers first, then the added ones. */
  layers: LayeredImageLayer[];
}

/** The OCI config fields appendLayers reads and writes. */
interface ImageConfig {
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean }[];
  [key: string]: unknown;
}

/**
 * Writes into `store` a new image = the image at `baseTarget` (tag or digest, already in `store`) + one gzip layer per
 * entry list of `added` (deterministic tar and gzip): layer blobs, a config with the diff IDs and history appended,
 * and the manifest under `tag`.
 */
export async function appendLayers(store: ImageStore, baseTarget: string, added: TarEntrySpec[][], tag: string): Promise<LayeredImage> {
  const base = await store.getManifest(baseTarget);
  const manifest = parseManifest(base.bytes, base.descriptor.mediaType).manifest as ImageManifest;
  const config = JSON.parse((await readBlob(store, manifest.config.digest, manifest.config.size)).toString('utf8')) as ImageConfig;
  const layers: LayeredImageLayer[] = manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: config.rootfs.diff_ids[i]! }));
  const descriptors: Descriptor[] = [...manifest.layers];
  for (const [i, entries] of added.entries()) {
    const tar = tarBytes(entries);
    const gz = gzipSync(tar, { level: 6 });
    const digest = sha256Digest(gz);
    await store.putBlob(digest, gz.length, gz);
    descriptors.push({ mediaType: OCI_LAYER_GZIP, digest, size: gz.length });
    layers.push({ digest, size: gz.length, mediaType: OCI_LAYER_GZIP, diffId: sha256Digest(tar), tar });
    config.history = [...(config.history ?? []), { created: FIXTURE_EPOCH_RFC3339, created_by: `turbo-oci test layer ${i + 1} of ${tag}` }];
  }
  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.diffId) };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256Digest(configBytes);
  await store.putBlob(configDigest, configBytes.length, configBytes);
  const next: ImageManifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.length }, layers: descriptors };
  const bytes = encodeManifest(next);
  const pushed = await store.putManifest(bytes, OCI_MANIFEST, tag);
  return { manifestDigest: pushed.digest, layers };
}

/**
 * Pushes `base` (an `oci:<dir>:<tag>` reference, e.g. DebianImage.prefixRef(1)) to `<registry>/<repo>:<tag>-base` with
 * skopeo, then appends `added` as new layers and tags the result `<repo>:<tag>`; returns `host:port/repo:tag` and the image.
 */
export async function pushLayeredImage(base: string, registryUrl: string, repo: string, added: TarEntrySpec[][], tag = 'latest'): Promise<LayeredImage & { ref: string }> {
  const baseRef = await pushToRegistry({ ref: base }, registryUrl, repo, `${tag}-base`);
  const ref = baseRef.replace(/:[^:/]+$/, `:${tag}`);
  const store = await openImageStore(parseReference(ref));
  try {
    return { ref, ...(await appendLayers(store, `${tag}-base`, added, tag)) };
  } finally {
    await store.close();
  }
}
