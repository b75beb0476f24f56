// Finds turbo-oci indexes of OTHER images of the same repository (or OCI layout), so a build can reuse the parts of layers they share.
import { INDEX_REUSE_MAX_TAGS, MAX_TAG_LIST_BYTES } from '../../src/defaults.js';
import { isImageError } from '../../src/errors.js';
import { decodeIndexArtifact, INDEX_ARTIFACT_TYPE, type IndexArtifact, type IndexedLayer } from '../../src/format/artifact/index-artifact.js';
import type { Descriptor, ImageIndex } from '../../src/format/oci/manifest.js';
import { parseManifest } from '../../src/format/oci/manifest.js';
import { readBlob, type ImageStore } from '../../src/registry/image-store.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { RegistryRepository } from '../../src/registry/repository.js';
import { checkStoredParts, partsKey, type LayerParts } from './layer-parts.js';

const FALLBACK_TAG = /^sha256-[0-9a-f]{64}$/;

async function indexManifestDigests(store: ImageStore): Promise<string[]> {
  if (store instanceof OciLayoutStore) {
    const listed = (await store.readIndex()).manifests;
    const out: string[] = [];
    for (const d of listed) {
      if (d.annotations?.['org.opencontainers.image.ref.name'] !== undefined) continue;
      const { bytes } = await store.getManifest(d.digest);
      const { manifest } = parseManifest(bytes, d.mediaType);
      if (manifest.artifactType === INDEX_ARTIFACT_TYPE) out.push(d.digest);
    }
    return out;
  }
  if (!(store instanceof RegistryRepository)) return [];
  const { body } = await store.host.fetch({ method: 'GET', url: store.url('tags', 'list'), headers: { accept: 'application/json' }, scopes: store.scopes() }, [200], MAX_TAG_LIST_BYTES, 'tag list');
  const tags = ((JSON.parse(body.toString('utf8')) as { tags?: unknown }).tags ?? []) as string[];
  const out: string[] = [];
  const take = (entries: Descriptor[]): void => {
    for (const d of entries) if (d.artifactType === INDEX_ARTIFACT_TYPE) out.push(d.digest);
  };
  for (const tag of tags.filter((t) => FALLBACK_TAG.test(t))) {
    const { bytes } = await store.getManifest(tag);
    take(((parseManifest(bytes).manifest as ImageIndex).manifests ?? []));
  }
  if (store.referrers.api === true) {
    for (const tag of tags.filter((t) => !FALLBACK_TAG.test(t)).slice(0, INDEX_REUSE_MAX_TAGS)) {
      const subject = await store.resolve(tag);
      take(await store.listReferrers(subject.digest, INDEX_ARTIFACT_TYPE));
    }
  }
  return [...new Set(out)].sort();
}

/**
 * Returns a lookup of layer parts from every index in `store`: the first call lists the indexes (tag fallback indexes,
 * referrers of tags, or index.json of a layout); each hit downloads the layer's seek index and entry table (verified).
 * Problems reading other images' indexes are not errors: the layer is then read itself.
 */
export function repositoryPartsLookup(store: ImageStore): (layer: { digest: string; size: number }, spanBytes: number) => Promise<LayerParts | undefined> {
  let catalog: Promise<Map<string, IndexedLayer>> | undefined;
  const load = async (): Promise<Map<string, IndexedLayer>> => {
    const found = new Map<string, IndexedLayer>();
    try {
      for (const digest of await indexManifestDigests(store)) {
        let artifact: IndexArtifact;
        try {
          artifact = decodeIndexArtifact((await store.getManifest(digest)).bytes);
        } catch (err) {
          if (isImageError(err)) continue;
          throw err;
        }
        for (const l of artifact.layers) if (!found.has(partsKey(l.digest, artifact.spanBytes))) found.set(partsKey(l.digest, artifact.spanBytes), l);
      }
    } catch (err) {
      if (!isImageError(err)) throw err;
    }
    return found;
  };
  return async (layer, spanBytes) => {
    catalog ??= load();
    const hit = (await catalog).get(partsKey(layer.digest, spanBytes));
    if (!hit || hit.size !== layer.size) return undefined;
    try {
      const seek = await readBlob(store, hit.seekIndex.digest, hit.seekIndex.size);
      const entries = await readBlob(store, hit.entryTable.digest, hit.entryTable.size);
      return checkStoredParts(seek, entries, layer, spanBytes, 'published');
    } catch (err) {
      if (isImageError(err)) return undefined;
      throw err;
    }
  };
}
