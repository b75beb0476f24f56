// Publishes a built index: every blob first (existing ones skipped), the empty config, then the manifest LAST as a referrer of the image.
import { OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { EMPTY_CONFIG } from '../../src/format/artifact/index-artifact.js';
import type { Descriptor } from '../../src/format/oci/manifest.js';
import type { ImageStore } from '../../src/registry/image-store.js';
import type { BuiltIndex } from './build-index.js';

/** What publishing did. */
export interface PublishResult {
  descriptor: Descriptor;
  uploadedBlobs: number;
  existingBlobs: number;
}

/** Uploads the blobs of `built` to `target`, then attaches its manifest; after an abort nothing more is written. */
export async function publishIndex(target: ImageStore, built: BuiltIndex, signal?: AbortSignal): Promise<PublishResult> {
  let uploaded = 0;
  let existing = 0;
  const blobs: [string, Buffer][] = [[EMPTY_CONFIG.digest, Buffer.from('{}')], ...built.blobs];
  for (const [digest, bytes] of blobs) {
    signal?.throwIfAborted();
    const r = await target.putBlob(digest, bytes.length, bytes);
    if (r.outcome === 'uploaded') uploaded++;
    else existing++;
  }
  signal?.throwIfAborted();
  const descriptor = await target.attachReferrer(built.manifestBytes, OCI_MANIFEST);
  return { descriptor, uploadedBlobs: uploaded, existingBlobs: existing };
}
