// Finds and loads the indexes attached to an image: referrers of our artifact type, decoded, with their blobs digest-checked.
import { ImageError } from '../../src/errors.js';
import { decodeIndexArtifact, INDEX_ARTIFACT_TYPE, type IndexArtifact } from '../../src/format/artifact/index-artifact.js';
import type { Descriptor } from '../../src/format/oci/manifest.js';
import { readBlob, type ImageStore } from '../../src/registry/image-store.js';
import { checkStoredParts, partsKey, type LayerParts } from './layer-parts.js';

/** An index attached to an image. */
export interface PublishedIndex {
  descriptor: Descriptor;
  bytes: Buffer;
  artifact: IndexArtifact;
}

/** Indexes whose subject is `subjectDigest`, decoded and checked (CORRUPT on a malformed one), sorted by digest. */
export async function findIndexes(store: ImageStore, subjectDigest: string): Promise<PublishedIndex[]> {
  const listed = await store.listReferrers(subjectDigest, INDEX_ARTIFACT_TYPE);
  const out: PublishedIndex[] = [];
  for (const d of [...listed].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0))) {
    const { bytes } = await store.getManifest(d.digest);
    const artifact = decodeIndexArtifact(bytes);
    if (artifact.subject.digest !== subjectDigest) {
      throw new ImageError('CORRUPT', `index ${d.digest} is listed as a referrer of ${subjectDigest} but its subject is ${artifact.subject.digest}`, { details: { index: d.digest } });
    }
    out.push({ descriptor: d, bytes, artifact });
  }
  return out;
}

/** Downloads (digest- and size-verified) and checks every blob of a published index; returns the layer parts by partsKey and all blobs. */
export async function loadPublishedParts(store: ImageStore, index: PublishedIndex): Promise<{ parts: Map<string, LayerParts>; blobs: Map<string, Buffer> }> {
  const parts = new Map<string, LayerParts>();
  const blobs = new Map<string, Buffer>();
  const fetch = async (ref: { digest: string; size: number }): Promise<Buffer> => {
    let bytes = blobs.get(ref.digest);
    if (!bytes) blobs.set(ref.digest, (bytes = await readBlob(store, ref.digest, ref.size)));
    return bytes;
  };
  for (const layer of index.artifact.layers) {
    const seek = await fetch(layer.seekIndex);
    const entries = await fetch(layer.entryTable);
    await fetch(layer.ext4Delta);
    const p = checkStoredParts(seek, entries, layer, index.artifact.spanBytes, 'published');
    if (p.points !== layer.points || p.entryTable.diffId !== layer.diffId || p.entryTable.tarBytes !== layer.uncompressedBytes) {
      throw new ImageError('CORRUPT', `index ${index.descriptor.digest}: the annotations of layer ${layer.digest} do not match its blobs`, { details: { layer: layer.digest } });
    }
    parts.set(partsKey(layer.digest, index.artifact.spanBytes), p);
  }
  return { parts, blobs };
}
