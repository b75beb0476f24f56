// OCI descriptors, image manifests and indexes (image-spec 1.1), Docker schema 2 equivalents, and their checked parsing.
import { ImageError } from '../../errors.js';
import { parseDigest } from './digest.js';
import { INDEX_TYPES, isIndexType, MANIFEST_TYPES } from './media-types.js';

/** A platform (image-spec 1.1 image-index.md). */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** A content descriptor (image-spec 1.1 descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

/** An image manifest (OCI or Docker schema 2). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The annotation naming a tag in an OCI layout's index.json (image-spec 1.1 annotations.md). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

function corrupt(what: string, why: string): ImageError {
  return new ImageError('CORRUPT', `${what}: ${why}`);
}

/** Checks the shape of a descriptor; throws CORRUPT naming `what`. */
export function checkDescriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null) throw corrupt(what, 'descriptor is not an object');
  if (typeof d.mediaType !== 'string') throw corrupt(what, 'descriptor has no mediaType');
  if (typeof d.digest !== 'string') throw corrupt(what, 'descriptor has no digest');
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw corrupt(what, 'descriptor size is not a non-negative integer');
  try {
    parseDigest(d.digest);
  } catch (err) {
    throw corrupt(what, (err as Error).message);
  }
  return d as Descriptor;
}

/** Parses manifest JSON, checking the fields we rely on. `mediaType` is the transport's Content-Type when the body has none. */
export function parseManifest(bytes: Uint8Array, mediaType?: string): { mediaType: string; manifest: ImageManifest | ImageIndex } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new ImageError('CORRUPT', 'manifest is not valid JSON', { cause: err });
  }
  if (typeof value !== 'object' || value === null) throw corrupt('manifest', 'not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.schemaVersion !== 2) throw new ImageError('UNSUPPORTED', `manifest schemaVersion ${String(m.schemaVersion)} is not supported`);
  const inferred = Array.isArray(m.manifests) ? INDEX_TYPES[0]! : MANIFEST_TYPES[0]!;
  const type = typeof m.mediaType === 'string' ? m.mediaType : mediaType && MANIFEST_TYPES.includes(mediaType) ? mediaType : inferred;
  if (isIndexType(type)) {
    if (!Array.isArray(m.manifests)) throw corrupt('index', 'no manifests array');
    m.manifests.forEach((d, i) => checkDescriptor(d, `index manifests[${i}]`));
  } else {
    checkDescriptor(m.config, 'manifest config');
    if (!Array.isArray(m.layers)) throw corrupt('manifest', 'no layers array');
    m.layers.forEach((d, i) => checkDescriptor(d, `manifest layers[${i}]`));
  }
  if (m.subject !== undefined) checkDescriptor(m.subject, 'manifest subject');
  return { mediaType: type, manifest: m as unknown as ImageManifest | ImageIndex };
}

/** The artifact type of a manifest for the referrers API (distribution-spec 1.1): artifactType, else config.mediaType. */
export function artifactTypeOf(manifest: ImageManifest | ImageIndex): string | undefined {
  if (manifest.artifactType !== undefined) return manifest.artifactType;
  return 'config' in manifest ? manifest.config.mediaType : undefined;
}

/** Serializes a manifest or index the way we push it: compact JSON, stable key order as given. */
export function encodeManifest(manifest: ImageManifest | ImageIndex): Buffer {
  return Buffer.from(JSON.stringify(manifest), 'utf8');
}
