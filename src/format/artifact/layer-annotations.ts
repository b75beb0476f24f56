// Layer annotations v1 (docs/format.md "Layer annotations v1"): the turbo.ociv1 keys on an image's layer descriptors that name its index artifact.
import { ImageError } from '../../errors.js';
import { isDigest } from '../oci/digest.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';
import { formatReference, parseReference } from '../oci/reference.js';

/**
 * The keys. Both start with `containerd.io/snapshot/` because containerd v1.6's unpacker copies exactly those layer
 * annotations into the labels of the layer's Prepare (snapshots.FilterInheritedLabels), as overlaybd's TurboOCIv1 keys do.
 */
export const LAYER_ANNOTATION = {
  /** Digest of the index artifact (application/vnd.turbo-oci.index.v1+json manifest). */
  index: 'containerd.io/snapshot/turbo.ociv1.index',
  /** `<registry>/<repository>` that holds the index artifact and the original image's manifest and blobs. */
  repository: 'containerd.io/snapshot/turbo.ociv1.repository',
} as const;

/** Prefix of the annotations containerd's unpacker forwards as snapshot labels (containerd v1.6 snapshots.FilterInheritedLabels). */
export const INHERITED_LABEL_PREFIX = 'containerd.io/snapshot/';

/** A repository in a registry (no tag, no digest). */
export interface RepositoryName {
  registry: string;
  repository: string;
}

/** What a layer's annotations (or a Prepare's labels) say: the index digest and, when given, its repository. */
export interface AnnotatedIndex {
  indexDigest: string;
  repository?: RepositoryName;
}

/** The canonical `<registry>/<repository>` string of `name`. */
export function formatRepositoryName(name: RepositoryName): string {
  return formatReference({ kind: 'registry', registry: name.registry, repository: name.repository });
}

/**
 * Parses a `<registry>/<repository>` value (docker reference grammar, so `debian` means `docker.io/library/debian`);
 * undefined when it is malformed, carries a tag or digest, or names an OCI layout.
 */
export function parseRepositoryName(value: string): RepositoryName | undefined {
  try {
    const ref = parseReference(value);
    if (ref.kind !== 'registry' || ref.tag !== undefined || ref.digest !== undefined) return undefined;
    return { registry: ref.registry, repository: ref.repository };
  } catch {
    return undefined;
  }
}

/** The two annotations that point a layer at index `indexDigest` in `repository`. */
export function layerAnnotations(indexDigest: string, repository: RepositoryName): Record<string, string> {
  return { [LAYER_ANNOTATION.index]: indexDigest, [LAYER_ANNOTATION.repository]: formatRepositoryName(repository) };
}

/**
 * Reads the annotations (or labels) `values`: undefined when the index key is absent, or when either value is malformed
 * (a consumer then behaves as if the layer had no turbo.ociv1 annotations).
 */
export function parseLayerAnnotations(values: Record<string, string>): AnnotatedIndex | undefined {
  const indexDigest = values[LAYER_ANNOTATION.index];
  if (indexDigest === undefined || !isDigest(indexDigest)) return undefined;
  const repoValue = values[LAYER_ANNOTATION.repository];
  if (repoValue === undefined) return { indexDigest };
  const repository = parseRepositoryName(repoValue);
  return repository && { indexDigest, repository };
}

/** The annotations of a layer descriptor that containerd's unpacker passes on as snapshot labels. */
export function inheritedLabels(annotations: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations ?? {})) if (k.startsWith(INHERITED_LABEL_PREFIX)) out[k] = v;
  return out;
}

/**
 * An image manifest's bytes with `values` added to the annotations of every layer descriptor (existing keys kept, ours
 * replaced); every other field is kept as parsed. Compact JSON, so the result has a new digest. CORRUPT when the bytes
 * are not a manifest with a layers array.
 */
export function annotateManifestLayers(bytes: Uint8Array, values: Record<string, string>): Buffer {
  const m = parseManifest(bytes).manifest as unknown as Record<string, unknown>;
  if (!Array.isArray(m.layers)) throw new ImageError('CORRUPT', 'manifest has no layers array');
  m.layers = (m.layers as Descriptor[]).map((d) => ({ ...d, annotations: { ...(d.annotations ?? {}), ...values } }));
  return Buffer.from(JSON.stringify(m), 'utf8');
}
