// Finds the turbo-oci index of an image (OCI distribution v1.1 referrers) and lists its layers as lazy-catalog entries keyed by chain ID.
import { findIndexArtifact } from '../backstore/open-image.js';
import type { Platform } from '../format/oci/manifest.js';
import { formatReference, type ImageReference } from '../format/oci/reference.js';
import { hostPlatform, resolveImageManifest } from '../registry/image-manifest.js';
import type { ImageStore } from '../registry/image-store.js';
import type { LazyLayer } from './lazy-layer.js';

/** The image's layers as catalog entries, plus the digests chosen. */
export interface ResolvedLazyImage {
  imageDigest: string;
  indexDigest: string;
  entries: { chainId: string; layer: LazyLayer }[];
}

/**
 * Resolves `ref` in `store` to its image manifest (the `platform` entry of an image index) and picks its index: among the
 * referrers of type INDEX_ARTIFACT_TYPE, the lowest digest (findIndexArtifact: the choice the backstore makes when it opens the image).
 */
export async function resolveLazyImage(store: ImageStore, ref: ImageReference, target: string, platform: Platform = hostPlatform()): Promise<ResolvedLazyImage> {
  const { manifest, result } = await resolveImageManifest(store, target, platform);
  const imageDigest = result.descriptor.digest;
  const { digest: indexDigest, artifact } = await findIndexArtifact(store, imageDigest, manifest, store.location);
  // The daemon opens the image by digest, so a moved tag cannot change what a recorded chain ID serves.
  const imageRef = ref.kind === 'registry' ? formatReference({ kind: 'registry', registry: ref.registry, repository: ref.repository, digest: imageDigest }) : formatReference({ ...ref, tag: undefined, digest: imageDigest });
  const layerCount = artifact.layers.length;
  return { imageDigest, indexDigest, entries: artifact.layers.map((l, layerIndex) => ({ chainId: l.chainId, layer: { imageRef, indexDigest, layerIndex, layerCount } })) };
}
