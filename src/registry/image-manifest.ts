// Resolving a reference to one image manifest: follows an index to the manifest of the wanted platform (default: this host).
import { ImageError } from '../errors.js';
import { parseManifest, type ImageIndex, type ImageManifest, type Platform } from '../format/oci/manifest.js';
import { isIndexType } from '../format/oci/media-types.js';
import { platformFromNode, selectPlatform } from '../format/oci/platform.js';
import type { ImageStore, ManifestResult } from './image-store.js';

/** A single-platform manifest, parsed, with the index it was chosen from (if any). */
export interface ResolvedImage {
  manifest: ImageManifest;
  /** Media type of the chosen manifest (as parsed). */
  mediaType: string;
  result: ManifestResult;
  index?: { index: ImageIndex; result: ManifestResult };
}

/** The host's platform in OCI terms. */
export function hostPlatform(): Platform {
  return platformFromNode(process.platform, process.arch);
}

/** Gets the image manifest at `target`; an index is followed to the manifest for `platform`. */
export async function resolveImageManifest(store: ImageStore, target: string, platform: Platform = hostPlatform()): Promise<ResolvedImage> {
  const first = await store.getManifest(target);
  const parsed = parseManifest(first.bytes, first.descriptor.mediaType);
  if (!isIndexType(parsed.mediaType)) return { manifest: parsed.manifest as ImageManifest, mediaType: parsed.mediaType, result: first };
  const index = parsed.manifest as ImageIndex;
  const chosen = selectPlatform(index, platform);
  const result = await store.getManifest(chosen.digest);
  const inner = parseManifest(result.bytes, chosen.mediaType);
  if (isIndexType(inner.mediaType)) throw new ImageError('UNSUPPORTED', `index ${first.descriptor.digest} points to another index for the platform`);
  return { manifest: inner.manifest as ImageManifest, mediaType: inner.mediaType, result, index: { index, result: first } };
}
