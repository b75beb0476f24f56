// Discovery step 2: an indexed layer named by turbo.ociv1 layer annotations (docs/format.md "Layer annotations v1") that containerd forwards as Prepare labels.
import { ANNOTATION_FAILURE_TTL_MS, MAX_MANIFEST_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';
import { chainIds } from '../format/artifact/chain-id.js';
import { decodeIndexArtifact, indexDescribesImage } from '../format/artifact/index-artifact.js';
import { formatRepositoryName, parseLayerAnnotations, type RepositoryName } from '../format/artifact/layer-annotations.js';
import { parseManifest, type ImageManifest, type Platform } from '../format/oci/manifest.js';
import { isImageManifestType } from '../format/oci/media-types.js';
import { parseReference } from '../format/oci/reference.js';
import { hostPlatform, resolveImageManifest } from '../registry/image-manifest.js';
import { readBlob, type ImageStore } from '../registry/image-store.js';
import { openImageStore } from '../registry/open-store.js';
import type { LazyCatalog } from './lazy-catalog.js';
import type { ResolvedLazyImage } from './lazy-image-resolver.js';
import { CRI_LABELS, type LazyLayer } from './lazy-layer.js';

/** Where the annotations in `labels` point: index digest and repository (the CRI image-ref's when the repository key is absent). */
export function annotatedSource(labels: Record<string, string>): { indexDigest: string; repository: RepositoryName } | undefined {
  const annotated = parseLayerAnnotations(labels);
  if (!annotated) return undefined;
  if (annotated.repository) return { indexDigest: annotated.indexDigest, repository: annotated.repository };
  const criRef = labels[CRI_LABELS.imageRef];
  if (criRef === undefined) return undefined;
  try {
    const ref = parseReference(criRef);
    if (ref.kind !== 'registry') return undefined;
    return { indexDigest: annotated.indexDigest, repository: { registry: ref.registry, repository: ref.repository } };
  } catch {
    return undefined;
  }
}

function mismatch(indexDigest: string, why: string, details: Record<string, string | number> = {}): ImageError {
  return new ImageError('CORRUPT', `index ${indexDigest} does not describe its subject image: ${why}`, { details: { index: indexDigest, ...details } });
}

/**
 * Loads index artifact `indexDigest` from `store` (the repository `repository`) BY DIGEST and checks it against its
 * subject: an image manifest in the same store whose layers are the indexed layers, and whose config's diff_ids give the
 * artifact's diffIDs and chain IDs. Returns the subject's layers as lazy-catalog entries (imageRef = the subject by digest).
 * NOT_FOUND / CORRUPT / UNSUPPORTED / UNAVAILABLE … on any problem.
 */
export async function resolveAnnotatedIndex(store: ImageStore, repository: RepositoryName, indexDigest: string): Promise<ResolvedLazyImage & { layerDigests: string[] }> {
  // getManifest verifies the bytes against the digest asked for.
  const artifact = decodeIndexArtifact((await store.getManifest(indexDigest)).bytes);
  const subject = await store.getManifest(artifact.subject.digest);
  const parsed = parseManifest(subject.bytes, subject.descriptor.mediaType);
  if (!isImageManifestType(parsed.mediaType)) throw mismatch(indexDigest, `subject ${artifact.subject.digest} is a ${parsed.mediaType}, not an image manifest`);
  const manifest = parsed.manifest as ImageManifest;
  if (!indexDescribesImage(artifact, artifact.subject.digest, manifest)) {
    throw mismatch(indexDigest, 'the layer lists differ', { image: artifact.subject.digest });
  }
  if (manifest.config.size > MAX_MANIFEST_BYTES) throw mismatch(indexDigest, `config ${manifest.config.digest} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  let diffIds: unknown;
  try {
    diffIds = (JSON.parse((await readBlob(store, manifest.config.digest, manifest.config.size)).toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
  } catch (cause) {
    if (cause instanceof ImageError) throw cause;
    throw mismatch(indexDigest, `config ${manifest.config.digest} is not JSON`);
  }
  if (!Array.isArray(diffIds) || diffIds.length !== artifact.layers.length || diffIds.some((d) => typeof d !== 'string')) {
    throw mismatch(indexDigest, 'the config lists another number of diff_ids', { image: artifact.subject.digest });
  }
  const chains = chainIds(diffIds as string[]);
  artifact.layers.forEach((l, i) => {
    if (l.diffId !== diffIds[i] || l.chainId !== chains[i]) throw mismatch(indexDigest, `layer ${i} has another diffID or chain ID than the image config`, { layer: i });
  });
  const imageRef = `${formatRepositoryName(repository)}@${artifact.subject.digest}`;
  const layerCount = artifact.layers.length;
  return {
    imageDigest: artifact.subject.digest,
    indexDigest,
    layerDigests: artifact.layers.map((l) => l.digest),
    entries: artifact.layers.map((l, layerIndex) => ({ chainId: l.chainId, layer: { imageRef, indexDigest, layerIndex, layerCount } })),
  };
}

/**
 * The lazy layer for chain `chainId` that the turbo.ociv1 labels name, or undefined (the step does not apply, or anything
 * failed: bad values, unreachable registry, missing or corrupt artifact, chain ID not in the index). A hit records the
 * image's layers in `catalog`; a catalog entry of the same index and repository answers without asking the registry; an
 * index that could not be loaded is not asked for again for ANNOTATION_FAILURE_TTL_MS (time `now`).
 */
export async function discoverByAnnotations(chainId: string, labels: Record<string, string>, catalog: LazyCatalog, now = Date.now()): Promise<LazyLayer | undefined> {
  const source = annotatedSource(labels);
  if (!source) return undefined;
  const known = catalog.lookup(chainId);
  const imagePrefix = `${formatRepositoryName(source.repository)}@`;
  if (known && known.indexDigest === source.indexDigest && known.imageRef.startsWith(imagePrefix)) return known;
  const failures = failuresOf(catalog);
  const key = `${imagePrefix}${source.indexDigest}`;
  if ((failures.get(key) ?? -Infinity) > now - ANNOTATION_FAILURE_TTL_MS) return undefined;
  let resolved: ResolvedLazyImage;
  try {
    const store = await openImageStore({ kind: 'registry', ...source.repository });
    try {
      resolved = await resolveAnnotatedIndex(store, source.repository, source.indexDigest);
    } finally {
      await store.close();
    }
  } catch {
    // Unreachable, not found, not an index, corrupt: remembered, so the image's next layers do not wait for it again.
    failures.set(key, now);
    return undefined;
  }
  failures.delete(key);
  const hit = resolved.entries.find((e) => e.chainId === chainId);
  if (hit) catalog.record(resolved.entries);
  return hit?.layer;
}

/** Indexes that could not be loaded, per snapshotter (keyed by its catalog): `<repository>@<index digest>` -> time of the failure. */
const FAILURES = new WeakMap<LazyCatalog, Map<string, number>>();

function failuresOf(catalog: LazyCatalog): Map<string, number> {
  let m = FAILURES.get(catalog);
  if (!m) FAILURES.set(catalog, (m = new Map()));
  return m;
}

/** An annotated image resolved through its annotations: the manifest to give containerd, and the original image's layers. */
export interface AnnotatedImage extends ResolvedLazyImage {
  /** The (annotated) image manifest at the reference, after platform selection. */
  manifestDigest: string;
}

/**
 * For `turbo-index pull`: the image manifest at `target` in `store` (the `platform` entry of an image index); when all
 * its layers carry the same valid turbo.ociv1 annotations, their index resolved as in discovery step 2 (in the store
 * `openRepository` opens for the named repository; the reference's own repository when the key is absent). Undefined
 * when the layers are not annotated; errors of the resolution are thrown (the image says it is indexed), and CORRUPT
 * when the image's layers are not the indexed image's.
 */
export async function resolveAnnotatedImage(
  store: ImageStore,
  ref: RepositoryName,
  target: string,
  openRepository: (name: RepositoryName) => Promise<ImageStore>,
  platform: Platform = hostPlatform(),
): Promise<AnnotatedImage | undefined> {
  const chosen = await resolveImageManifest(store, target, platform);
  const manifestDigest = chosen.result.descriptor.digest;
  if (!isImageManifestType(chosen.mediaType)) return undefined;
  const layers = chosen.manifest.layers;
  const each = layers.map((l) => parseLayerAnnotations(l.annotations ?? {}));
  const first = each[0];
  if (!first || each.some((a) => !a || a.indexDigest !== first.indexDigest || formatRepositoryName(a.repository ?? ref) !== formatRepositoryName(first.repository ?? ref))) return undefined;
  const repository = first.repository ?? { registry: ref.registry, repository: ref.repository };
  const same = formatRepositoryName(repository) === formatRepositoryName(ref);
  const indexStore = same ? store : await openRepository(repository);
  try {
    const { layerDigests, ...resolved } = await resolveAnnotatedIndex(indexStore, repository, first.indexDigest);
    if (layerDigests.length !== layers.length || layers.some((l, i) => l.digest !== layerDigests[i])) {
      throw new ImageError('CORRUPT', `the layers of image ${manifestDigest} are not those of the image its annotations name`, {
        details: { image: manifestDigest, index: first.indexDigest, indexed: resolved.imageDigest },
      });
    }
    return { ...resolved, manifestDigest };
  } finally {
    if (!same) await indexStore.close();
  }
}
