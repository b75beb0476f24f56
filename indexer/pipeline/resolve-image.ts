// Resolves an image reference to the image manifests to index: one, or every platform of a multi-platform index.
import { ImageError } from '../../src/errors.js';
import type { ImageIndex, ImageManifest, Platform } from '../../src/format/oci/manifest.js';
import { parseManifest } from '../../src/format/oci/manifest.js';
import { isImageManifestType, isIndexType } from '../../src/format/oci/media-types.js';
import { selectPlatform } from '../../src/format/oci/platform.js';
import type { ImageStore, ManifestResult } from '../../src/registry/image-store.js';

/** An image manifest to index, with its platform when it came from an index. */
export interface ResolvedImage {
  manifest: ManifestResult;
  parsed: ImageManifest;
  platform?: Platform;
}

/** `os/arch[/variant]` of a platform. */
export function platformText(p: Platform | undefined): string {
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '';
}

async function imageAt(store: ImageStore, target: string, platform?: Platform): Promise<ResolvedImage> {
  const manifest = await store.getManifest(target);
  const { mediaType, manifest: parsed } = parseManifest(manifest.bytes, manifest.descriptor.mediaType);
  if (!isImageManifestType(mediaType)) throw new ImageError('UNSUPPORTED', `${target} is a ${mediaType}, not an image manifest`);
  return { manifest, parsed: parsed as ImageManifest, ...(platform ? { platform } : {}) };
}

/**
 * The image manifests `target` names: itself, or for an image index the manifest of `platform`, or of every
 * platform (attestation entries with os `unknown` skipped), in index order.
 */
export async function resolveImages(store: ImageStore, target: string, platform?: Platform): Promise<ResolvedImage[]> {
  const top = await store.getManifest(target);
  const { mediaType, manifest } = parseManifest(top.bytes, top.descriptor.mediaType);
  if (!isIndexType(mediaType)) {
    if (platform) throw new ImageError('INVALID_ARGUMENT', `${target} is a single-platform image; --platform applies to multi-platform images`);
    return [await imageAt(store, top.descriptor.digest)];
  }
  const index = manifest as ImageIndex;
  if (platform) {
    const chosen = selectPlatform(index, platform);
    return [await imageAt(store, chosen.digest, chosen.platform)];
  }
  const out: ResolvedImage[] = [];
  for (const d of index.manifests) {
    if (!isImageManifestType(d.mediaType) || d.platform?.os === 'unknown') continue;
    out.push(await imageAt(store, d.digest, d.platform));
  }
  if (out.length === 0) throw new ImageError('NOT_FOUND', `image index ${target} lists no image manifests`);
  return out;
}
