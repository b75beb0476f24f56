// Finds the turbo-oci index of an image (OCI distribution v1.1 referrers) and lists its layers as lazy-catalog entries keyed by chain ID.
import { ImageError } from '../errors.js';
import { decodeIndexArtifact, INDEX_ARTIFACT_TYPE } from '../format/artifact/index-artifact.js';
import { parseManifest, type ImageIndex, type ImageManifest, type Platform } from '../format/oci/manifest.js';
import { isIndexType } from '../format/oci/media-types.js';
import { platformFromNode, selectPlatform } from '../format/oci/platform.js';
import { formatReference, type ImageReference } from '../format/oci/reference.js';
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
 * referrers of type INDEX_ARTIFACT_TYPE, the lowest digest (the same choice the backstore makes when it opens the image).
 */
export async function resolveLazyImage(store: ImageStore, ref: ImageReference, target: string, platform: Platform = platformFromNode(process.platform, process.arch)): Promise<ResolvedLazyImage> {
  const top = await store.getManifest(target);
  let imageDigest = top.descriptor.digest;
  let parsed = parseManifest(top.bytes, top.descriptor.mediaType);
  if (isIndexType(parsed.mediaType)) {
    const chosen = selectPlatform(parsed.manifest as ImageIndex, platform);
    const m = await store.getManifest(chosen.digest);
    imageDigest = m.descriptor.digest;
    parsed = parseManifest(m.bytes, m.descriptor.mediaType);
  }
  const manifest = parsed.manifest as ImageManifest;
  const listed = (await store.listReferrers(imageDigest, INDEX_ARTIFACT_TYPE)).map((d) => d.digest).sort();
  if (listed.length === 0) throw new ImageError('NOT_FOUND', `image ${imageDigest} has no turbo-oci index`, { details: { image: imageDigest }, hint: 'run turbo-index build on the image first' });
  const indexDigest = listed[0]!;
  const artifact = decodeIndexArtifact((await store.getManifest(indexDigest)).bytes);
  const same = artifact.subject.digest === imageDigest && artifact.layers.length === manifest.layers.length && artifact.layers.every((l, i) => l.digest === manifest.layers[i]!.digest);
  if (!same) throw new ImageError('CORRUPT', `index ${indexDigest} does not describe the layers of image ${imageDigest}`, { details: { index: indexDigest, image: imageDigest } });
  // The daemon opens the image by digest, so a moved tag cannot change what a recorded chain ID serves.
  const imageRef = ref.kind === 'registry' ? formatReference({ kind: 'registry', registry: ref.registry, repository: ref.repository, digest: imageDigest }) : formatReference({ ...ref, tag: undefined, digest: imageDigest });
  const layerCount = artifact.layers.length;
  return { imageDigest, indexDigest, entries: artifact.layers.map((l, layerIndex) => ({ chainId: l.chainId, layer: { imageRef, indexDigest, layerIndex, layerCount } })) };
}
