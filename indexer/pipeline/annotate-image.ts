// Writes an annotated copy of an indexed image: the same layers, each descriptor carrying the turbo.ociv1 layer annotations (docs/format.md "Layer annotations v1").
import { ImageError } from '../../src/errors.js';
import { decodeIndexArtifact, INDEX_ARTIFACT_TYPE, indexDescribesImage } from '../../src/format/artifact/index-artifact.js';
import { annotateManifestLayers, layerAnnotations, type RepositoryName } from '../../src/format/artifact/layer-annotations.js';
import { parseManifest, type Descriptor, type ImageIndex, type ImageManifest, type Platform } from '../../src/format/oci/manifest.js';
import { isImageManifestType, isIndexType } from '../../src/format/oci/media-types.js';
import type { ImageStore } from '../../src/registry/image-store.js';

/** One image manifest that got annotated. */
export interface AnnotatedManifest {
  /** The indexed (original) image manifest. */
  source: Descriptor;
  /** The annotated copy. */
  annotated: Descriptor;
  indexDigest: string;
  platform?: Platform;
}

/** What annotateImage pushed: the top manifest (under the tag) and each annotated image manifest. */
export interface AnnotateResult {
  descriptor: Descriptor;
  images: AnnotatedManifest[];
}

/**
 * The index to name for image manifest `digest`: among its referrers of INDEX_ARTIFACT_TYPE, the lowest digest whose
 * artifact decodes and lists exactly the manifest's layers (the same first choice as `turbo-index pull`); undefined if none.
 */
async function chooseIndex(store: ImageStore, digest: string, manifest: ImageManifest): Promise<string | undefined> {
  const listed = (await store.listReferrers(digest, INDEX_ARTIFACT_TYPE)).map((d) => d.digest).sort();
  for (const indexDigest of listed) {
    try {
      const artifact = decodeIndexArtifact((await store.getManifest(indexDigest)).bytes);
      if (indexDescribesImage(artifact, digest, manifest)) return indexDigest;
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
    }
  }
  return undefined;
}

/** Annotates the image manifest `digest` and pushes the copy by digest; undefined when it has no usable index. */
async function annotateOne(store: ImageStore, repository: RepositoryName, digest: string, tag: string | undefined): Promise<AnnotatedManifest | undefined> {
  const { bytes, descriptor } = await store.getManifest(digest);
  const manifest = parseManifest(bytes, descriptor.mediaType).manifest as ImageManifest;
  const indexDigest = await chooseIndex(store, descriptor.digest, manifest);
  if (indexDigest === undefined) return undefined;
  const annotatedBytes = annotateManifestLayers(bytes, layerAnnotations(indexDigest, repository));
  const annotated = await store.putManifest(annotatedBytes, descriptor.mediaType, tag);
  return { source: descriptor, annotated, indexDigest };
}

/**
 * Pushes an annotated copy of `target` (a tag or digest in `store`, the repository `repository`) under `tag`. An image
 * manifest is copied with the two annotations on every layer; for an image index, each listed image manifest that has
 * an index is copied so (the others stay as they are) and a new index lists the copies. Blobs are not touched: they
 * are the same. NOT_FOUND when nothing has an index.
 */
export async function annotateImage(store: ImageStore, repository: RepositoryName, target: string, tag: string): Promise<AnnotateResult> {
  const top = await store.getManifest(target);
  const { mediaType, manifest } = parseManifest(top.bytes, top.descriptor.mediaType);
  const noIndex = () =>
    new ImageError('NOT_FOUND', `${target} has no turbo-oci index in ${store.location}`, { details: { image: top.descriptor.digest }, hint: 'run turbo-index build on the image first' });
  if (!isIndexType(mediaType)) {
    const one = await annotateOne(store, repository, top.descriptor.digest, tag);
    if (!one) throw noIndex();
    return { descriptor: one.annotated, images: [one] };
  }
  const images: AnnotatedManifest[] = [];
  const listed = (manifest as ImageIndex).manifests;
  const manifests: Descriptor[] = [];
  for (const d of listed) {
    const one = isImageManifestType(d.mediaType) ? await annotateOne(store, repository, d.digest, undefined) : undefined;
    if (!one) {
      manifests.push(d);
      continue;
    }
    images.push({ ...one, ...(d.platform ? { platform: d.platform } : {}) });
    manifests.push({ ...d, digest: one.annotated.digest, size: one.annotated.size });
  }
  if (images.length === 0) throw noIndex();
  const indexBytes = Buffer.from(JSON.stringify({ ...(manifest as ImageIndex), manifests }), 'utf8');
  const descriptor = await store.putManifest(indexBytes, mediaType, tag);
  return { descriptor, images };
}
