// ImageStore: the one interface over a registry repository and an OCI image layout, used by the indexer and the backstore.
import type { Readable } from 'node:stream';

import type { Descriptor } from '../format/oci/manifest.js';

/** A manifest's bytes (digest-verified) and its descriptor. */
export interface ManifestResult {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** Blob content to store: bytes in memory, or a function that opens a fresh stream of them (called again when an upload must restart). */
export type BlobSource = Uint8Array | (() => AsyncIterable<Uint8Array>);

/** What putBlob did: uploaded, found it already present, or mounted it from another repository. */
export interface PutBlobResult {
  descriptor: { digest: string; size: number };
  outcome: 'uploaded' | 'exists' | 'mounted';
}

/** Options of putBlob. */
export interface PutBlobOptions {
  /** Repository (same registry) that holds the blob: tried as a cross-repository mount first. Ignored by layouts. */
  mountFrom?: string;
}

/**
 * Content-addressed image storage: a registry repository (`RegistryRepository`) or an OCI image layout (`OciLayoutStore`).
 * `target` is a tag or a digest. Every whole-content read is digest-verified: getManifest before it returns, getBlob
 * by failing the stream with CORRUPT at its end. Ranged reads cannot be verified here; callers check their own span digests.
 */
export interface ImageStore {
  /** Human-readable location for messages (no credentials). */
  readonly location: string;
  /** The descriptor a tag or digest points to (mediaType, digest, size). */
  resolve(target: string): Promise<Descriptor>;
  /** The manifest or index at `target`, verified against its digest; LIMIT_EXCEEDED past the manifest size limit. */
  getManifest(target: string): Promise<ManifestResult>;
  /** Stores a manifest (and tags it when `tag` is given); returns its descriptor. */
  putManifest(bytes: Uint8Array, mediaType: string, tag?: string): Promise<Descriptor>;
  /** Streams a blob; the stream fails with CORRUPT if the bytes do not match `digest` (or `size` when given). */
  getBlob(digest: string, size?: number): Promise<Readable>;
  /** `length` bytes of a blob from `offset` (fewer only at the blob's end). */
  getBlobRange(digest: string, offset: number, length: number): Promise<Buffer>;
  /** The blob's size when it exists, else undefined. */
  blobExists(digest: string): Promise<number | undefined>;
  /** Stores a blob, verifying it hashes to `digest`; skips work when the blob exists. */
  putBlob(digest: string, size: number, source: BlobSource, options?: PutBlobOptions): Promise<PutBlobResult>;
  /** Descriptors of manifests whose `subject` is `digest`, optionally only of `artifactType`. */
  listReferrers(digest: string, artifactType?: string): Promise<Descriptor[]>;
  /** Stores a manifest that has a `subject` and makes listReferrers of the subject return it. */
  attachReferrer(bytes: Uint8Array, mediaType: string): Promise<Descriptor>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}

/** Reads a whole blob into memory (for configs and other small blobs), verified. */
export async function readBlob(store: ImageStore, digest: string, size?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.getBlob(digest, size)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
