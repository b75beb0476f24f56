// Index artifact v1 (docs/format.md "Index artifact v1"): the OCI image manifest (image-spec v1.1) that attaches a TurboOCIv1 index to an image.
import { ImageError } from '../../errors.js';
import { isDigest } from '../oci/digest.js';
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import { EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST } from '../oci/media-types.js';

/** artifactType of every index manifest (and its referrers-API descriptor). */
export const INDEX_ARTIFACT_TYPE = 'application/vnd.turbo-oci.index.v1+json';
/** Media type of a layer's seek index blob (docs/format.md "Seek index v1"). */
export const SEEK_INDEX_MEDIA_TYPE = 'application/vnd.turbo-oci.seek-index.v1';
/** Media type of a layer's ext4 delta blob (docs/format.md "ext4 delta v1"; its metadata runs are zstd frames). */
export const EXT4_DELTA_MEDIA_TYPE = 'application/vnd.turbo-oci.ext4-delta.v1+zstd';
/** Media type of a layer's tar entry table blob (docs/format.md "Tar entry table v1"). */
export const ENTRY_TABLE_MEDIA_TYPE = 'application/vnd.turbo-oci.tar-entries.v1+zstd';
/** The version this code writes and reads (annotation `dev.turbo-oci.index.version`). */
export const INDEX_ARTIFACT_VERSION = 1;

/** Annotation keys of the manifest and its blob descriptors. */
export const ANNOTATION = {
  indexVersion: 'dev.turbo-oci.index.version',
  buildTool: 'dev.turbo-oci.build-tool',
  spanBytes: 'dev.turbo-oci.span-bytes',
  deviceBytes: 'dev.turbo-oci.ext4.device-bytes',
  formatVersion: 'dev.turbo-oci.format.version',
  layerPosition: 'dev.turbo-oci.layer.position',
  layerDigest: 'dev.turbo-oci.layer.digest',
  layerMediaType: 'dev.turbo-oci.layer.media-type',
  layerSize: 'dev.turbo-oci.layer.size',
  layerDiffId: 'dev.turbo-oci.layer.diff-id',
  layerChainId: 'dev.turbo-oci.layer.chain-id',
  uncompressedBytes: 'dev.turbo-oci.layer.uncompressed-size',
  seekPoints: 'dev.turbo-oci.seek.points',
} as const;

/** A blob of the artifact: digest and size. */
export interface BlobRef {
  digest: string;
  size: number;
}

/** What the index holds for one original layer. */
export interface IndexedLayer {
  /** The original layer descriptor's digest, media type and size. */
  digest: string;
  mediaType: string;
  size: number;
  /** sha256 of the uncompressed tar and the OCI chain ID of the stack up to this layer. */
  diffId: string;
  chainId: string;
  uncompressedBytes: number;
  /** Seek points in the seek index (0 for a plain tar layer). */
  points: number;
  seekIndex: BlobRef;
  ext4Delta: BlobRef;
  entryTable: BlobRef;
}

/** An index artifact in memory. */
export interface IndexArtifact {
  /** The indexed image manifest (mediaType, digest, size only). */
  subject: Descriptor;
  spanBytes: number;
  deviceBytes: number;
  /** Name and version of the tool that built it, e.g. `turbo-index/0.1.0`. */
  buildTool: string;
  layers: IndexedLayer[];
}

/** The config descriptor every index uses: the OCI empty JSON `{}` (image-spec v1.1 manifest.md "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG: Descriptor = { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 };

function sortedObject(entries: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(entries).sort()) out[key] = entries[key]!;
  return out;
}

function blobDescriptor(mediaType: string, blob: BlobRef, annotations: Record<string, string>): Descriptor {
  return { mediaType, digest: blob.digest, size: blob.size, annotations: sortedObject(annotations) };
}

/** The annotations shared by a layer's three blobs. */
function layerAnnotations(a: IndexArtifact, layer: IndexedLayer, position: number): Record<string, string> {
  return {
    [ANNOTATION.formatVersion]: String(INDEX_ARTIFACT_VERSION),
    [ANNOTATION.layerPosition]: String(position),
    [ANNOTATION.layerDigest]: layer.digest,
    [ANNOTATION.layerMediaType]: layer.mediaType,
    [ANNOTATION.layerSize]: String(layer.size),
    [ANNOTATION.layerDiffId]: layer.diffId,
    [ANNOTATION.layerChainId]: layer.chainId,
    [ANNOTATION.uncompressedBytes]: String(layer.uncompressedBytes),
    [ANNOTATION.spanBytes]: String(a.spanBytes),
  };
}

/** Serializes an artifact: compact JSON, fixed key order, annotation keys ascending; same input, same bytes. */
export function encodeIndexArtifact(a: IndexArtifact): Buffer {
  const layers: Descriptor[] = [];
  a.layers.forEach((layer, position) => {
    const shared = layerAnnotations(a, layer, position);
    layers.push(blobDescriptor(SEEK_INDEX_MEDIA_TYPE, layer.seekIndex, { ...shared, [ANNOTATION.seekPoints]: String(layer.points) }));
    layers.push(blobDescriptor(EXT4_DELTA_MEDIA_TYPE, layer.ext4Delta, { ...shared, [ANNOTATION.deviceBytes]: String(a.deviceBytes) }));
    layers.push(blobDescriptor(ENTRY_TABLE_MEDIA_TYPE, layer.entryTable, shared));
  });
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: INDEX_ARTIFACT_TYPE,
    config: { ...EMPTY_CONFIG },
    layers,
    subject: { mediaType: a.subject.mediaType, digest: a.subject.digest, size: a.subject.size },
    annotations: sortedObject({
      [ANNOTATION.indexVersion]: String(INDEX_ARTIFACT_VERSION),
      [ANNOTATION.buildTool]: a.buildTool,
      [ANNOTATION.spanBytes]: String(a.spanBytes),
      [ANNOTATION.deviceBytes]: String(a.deviceBytes),
    }),
  };
  return Buffer.from(JSON.stringify(manifest), 'utf8');
}

function corrupt(message: string, details: Record<string, string | number> = {}): ImageError {
  return new ImageError('CORRUPT', `index artifact: ${message}`, { details });
}

function integer(value: string | undefined, what: string): number {
  const n = value !== undefined && /^(0|[1-9][0-9]*)$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw corrupt(`${what} is not a non-negative integer`, { value: String(value) });
  return n;
}

function digestField(value: string | undefined, what: string): string {
  if (value === undefined || !isDigest(value)) throw corrupt(`${what} is not a digest`, { value: String(value) });
  return value;
}

function blobOf(d: Descriptor, what: string): BlobRef {
  digestField(d.digest, `${what} digest`);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw corrupt(`${what} size is invalid`);
  return { digest: d.digest, size: d.size };
}

/**
 * Parses and checks index manifest bytes: shape, media types, per-layer annotations, and that re-encoding gives the
 * same bytes (the canonical form). CORRUPT on any mismatch; UNSUPPORTED for another index version.
 */
export function decodeIndexArtifact(bytes: Uint8Array): IndexArtifact {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new ImageError('CORRUPT', 'index artifact: not valid JSON', { cause });
  }
  if (typeof m !== 'object' || m === null) throw corrupt('not a JSON object');
  if (m.artifactType !== INDEX_ARTIFACT_TYPE) throw corrupt('wrong artifactType', { artifactType: String(m.artifactType) });
  const annotations = (m.annotations ?? {}) as Record<string, string>;
  const version = annotations[ANNOTATION.indexVersion];
  if (version !== String(INDEX_ARTIFACT_VERSION)) {
    throw new ImageError('UNSUPPORTED', `index artifact version ${String(version)} is not supported (this tool reads ${INDEX_ARTIFACT_VERSION})`);
  }
  if (m.schemaVersion !== 2 || m.mediaType !== OCI_MANIFEST) throw corrupt('not an OCI image manifest');
  const subject = m.subject as Descriptor | undefined;
  if (!subject || typeof subject.mediaType !== 'string' || !Number.isSafeInteger(subject.size)) throw corrupt('no valid subject');
  digestField(subject.digest, 'subject digest');
  const descs = m.layers as Descriptor[] | undefined;
  if (!Array.isArray(descs) || descs.length % 3 !== 0) throw corrupt('layers must come in triples (seek index, ext4 delta, entry table)');
  const artifact: IndexArtifact = {
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    spanBytes: integer(annotations[ANNOTATION.spanBytes], 'span'),
    deviceBytes: integer(annotations[ANNOTATION.deviceBytes], 'device size'),
    buildTool: String(annotations[ANNOTATION.buildTool] ?? ''),
    layers: [],
  };
  for (let i = 0; i < descs.length; i += 3) {
    const [seek, delta, entries] = [descs[i]!, descs[i + 1]!, descs[i + 2]!];
    const position = i / 3;
    const types = [seek.mediaType, delta.mediaType, entries.mediaType];
    if (types[0] !== SEEK_INDEX_MEDIA_TYPE || types[1] !== EXT4_DELTA_MEDIA_TYPE || types[2] !== ENTRY_TABLE_MEDIA_TYPE) {
      throw corrupt('unexpected blob media types', { position, types: types.join(',') });
    }
    const a = seek.annotations ?? {};
    artifact.layers.push({
      digest: digestField(a[ANNOTATION.layerDigest], 'layer digest'),
      mediaType: String(a[ANNOTATION.layerMediaType] ?? ''),
      size: integer(a[ANNOTATION.layerSize], 'layer size'),
      diffId: digestField(a[ANNOTATION.layerDiffId], 'diffID'),
      chainId: digestField(a[ANNOTATION.layerChainId], 'chain ID'),
      uncompressedBytes: integer(a[ANNOTATION.uncompressedBytes], 'uncompressed size'),
      points: integer(a[ANNOTATION.seekPoints], 'seek points'),
      seekIndex: blobOf(seek, 'seek index'),
      ext4Delta: blobOf(delta, 'ext4 delta'),
      entryTable: blobOf(entries, 'entry table'),
    });
  }
  const canonical = encodeIndexArtifact(artifact);
  if (!canonical.equals(Buffer.from(bytes))) throw corrupt('manifest is not in canonical v1 form (fields, annotations or order differ)');
  return artifact;
}

/** True when `artifact` indexes exactly the layers (digest and size, in order) of `manifest`, the image manifest `imageDigest`. */
export function indexDescribesImage(artifact: IndexArtifact, imageDigest: string, manifest: ImageManifest): boolean {
  return (
    artifact.subject.digest === imageDigest &&
    artifact.layers.length === manifest.layers.length &&
    artifact.layers.every((l, i) => l.digest === manifest.layers[i]!.digest && l.size === manifest.layers[i]!.size)
  );
}
