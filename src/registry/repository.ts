// A repository in a registry as an ImageStore (distribution-spec 1.1 "pull", "push", "content discovery").
import type { Readable } from 'node:stream';

import { ImageError } from '../errors.js';
import { isDigest, parseDigest, sha256Digest, digestOf } from '../format/oci/digest.js';
import { parseManifest, type Descriptor } from '../format/oci/manifest.js';
import { MANIFEST_TYPES } from '../format/oci/media-types.js';
import { repositoryScope } from './authenticator.js';
import { openVerifiedBlob, contentRangeStart } from './blob-reader.js';
import { uploadBlob } from './blob-upload.js';
import { headerValue } from './http-exchange.js';
import type { BlobSource, ImageStore, ManifestResult, PutBlobOptions, PutBlobResult } from './image-store.js';
import { attachReferrer, listReferrers, type ReferrersState } from './referrers.js';
import type { RegistryHost } from './registry-host.js';
import { networkError, redactUrl } from './registry-error.js';
import { withRetries } from './retry.js';
import { discardBody } from './response-body.js';

/** Limits and tuning of a repository client. */
export interface RepositoryOptions {
  maxManifestBytes: number;
  uploadChunkBytes: number;
  referrersSettleMs: number;
  referrersMaxAttempts: number;
}

/** What a manifest PUT returned: the descriptor and the `OCI-Subject` header (set when the registry indexed the subject). */
export interface PushedManifest {
  descriptor: Descriptor;
  ociSubject: string | undefined;
}

const ACCEPT_MANIFESTS = MANIFEST_TYPES.join(', ');

/** One repository of a registry (`registry/name`), implementing ImageStore over HTTP. */
export class RegistryRepository implements ImageStore {
  readonly location: string;
  readonly name: string;
  readonly host: RegistryHost;
  readonly options: RepositoryOptions;
  /** Whether the registry serves the referrers API (learned on first use). */
  readonly referrers: ReferrersState = { api: undefined };
  readonly #onClose: (() => Promise<void>) | undefined;

  constructor(host: RegistryHost, name: string, options: RepositoryOptions, onClose?: () => Promise<void>) {
    this.host = host;
    this.name = name;
    this.options = options;
    this.location = `${host.registry}/${name}`;
    this.#onClose = onClose;
  }

  /** Scopes for reading (`pull`) or writing (`pull,push`) this repository. */
  scopes(write = false): string[] {
    return [repositoryScope(this.name, write ? 'pull,push' : 'pull')];
  }

  /** Absolute URL of `/v2/<name>/<kind>/<ref>`. */
  url(kind: 'manifests' | 'blobs' | 'referrers' | 'tags', ref: string): string {
    return this.host.url(`/v2/${this.name}/${kind}/${ref}`);
  }

  async resolve(target: string): Promise<Descriptor> {
    const { response } = await this.host.fetch(
      { method: 'HEAD', url: this.url('manifests', target), headers: { accept: ACCEPT_MANIFESTS }, scopes: this.scopes() },
      [200],
      this.options.maxManifestBytes,
      'manifest',
    );
    const digest = headerValue(response.headers, 'docker-content-digest');
    const mediaType = headerValue(response.headers, 'content-type');
    const size = Number(headerValue(response.headers, 'content-length'));
    if (digest && isDigest(digest) && mediaType && MANIFEST_TYPES.includes(mediaType) && Number.isSafeInteger(size)) {
      if (isDigest(target) && digest !== target && parseDigest(digest).algorithm === parseDigest(target).algorithm) {
        throw new ImageError('CORRUPT', `registry resolved ${target} to ${digest}`, { details: { url: redactUrl(response.url) } });
      }
      return { mediaType, digest: isDigest(target) ? target : digest, size };
    }
    // Registries that omit the digest on HEAD: fetch and hash the manifest.
    return (await this.getManifest(target)).descriptor;
  }

  async getManifest(target: string): Promise<ManifestResult> {
    const url = this.url('manifests', target);
    const { response, body } = await this.host.fetch(
      { method: 'GET', url, headers: { accept: ACCEPT_MANIFESTS }, scopes: this.scopes() },
      [200],
      this.options.maxManifestBytes,
      `manifest ${target}`,
    );
    const headerDigest = headerValue(response.headers, 'docker-content-digest');
    const digest = isDigest(target) ? digestOf(body, target) : sha256Digest(body);
    if (isDigest(target) && digest !== target) {
      throw new ImageError('CORRUPT', `manifest ${target}: digest mismatch`, { details: { expected: target, actual: digest, url: redactUrl(url) } });
    }
    if (headerDigest && isDigest(headerDigest) && headerDigest !== digestOf(body, headerDigest)) {
      throw new ImageError('CORRUPT', `manifest ${target}: body does not match Docker-Content-Digest`, {
        details: { expected: headerDigest, actual: digestOf(body, headerDigest), url: redactUrl(url) },
      });
    }
    const { mediaType } = parseManifest(body, headerValue(response.headers, 'content-type'));
    return { descriptor: { mediaType, digest, size: body.length }, bytes: body };
  }

  /** PUT a manifest by tag (or by its digest) and report `OCI-Subject`. */
  async pushManifest(bytes: Uint8Array, mediaType: string, tag?: string): Promise<PushedManifest> {
    const digest = sha256Digest(bytes);
    const url = this.url('manifests', tag ?? digest);
    const response = await this.host.open(
      { method: 'PUT', url, headers: { 'content-type': mediaType }, body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), scopes: this.scopes(true) },
      [200, 201],
    );
    await response.body.dump();
    const echoed = headerValue(response.headers, 'docker-content-digest');
    if (echoed && echoed !== digest && echoed.startsWith('sha256:')) {
      throw new ImageError('CORRUPT', `registry stored manifest as ${echoed}, we sent ${digest}`, { details: { url: redactUrl(url) } });
    }
    return { descriptor: { mediaType, digest, size: bytes.byteLength }, ociSubject: headerValue(response.headers, 'oci-subject') };
  }

  async putManifest(bytes: Uint8Array, mediaType: string, tag?: string): Promise<Descriptor> {
    return (await this.pushManifest(bytes, mediaType, tag)).descriptor;
  }

  getBlob(digest: string, size?: number): Promise<Readable> {
    return openVerifiedBlob(this.host, this.url('blobs', digest), this.scopes(), digest, size);
  }

  async getBlobRange(digest: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new ImageError('INVALID_ARGUMENT', `bad blob range offset=${offset} length=${length}`);
    }
    if (length === 0) return Buffer.alloc(0);
    const url = this.url('blobs', digest);
    const request = { method: 'GET' as const, url, scopes: this.scopes(), headers: { range: `bytes=${offset}-${offset + length - 1}` } };
    return withRetries(this.host.retry, async () => {
      const response = await this.host.exchange(request, [200, 206]);
      // A 200 means the server ignored Range: skip to `offset` and stop after `length`.
      let skip = response.statusCode === 200 ? offset : 0;
      if (response.statusCode === 206 && contentRangeStart(response.headers) !== offset) {
        discardBody(response.body);
        throw new ImageError('CORRUPT', `blob ${digest}: asked for bytes from ${offset}, got another range`, { details: { url: redactUrl(url) } });
      }
      const out = Buffer.allocUnsafe(length);
      let filled = 0;
      try {
        for await (const raw of response.body as AsyncIterable<Buffer>) {
          let chunk = raw;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          const n = Math.min(chunk.length, length - filled);
          chunk.copy(out, filled, 0, n);
          filled += n;
          // A 206 body ends by itself (keeping the connection reusable); a whole-blob 200 is cut short.
          if (filled === length && response.statusCode === 200) break;
        }
      } catch (err) {
        throw networkError('GET', url, err);
      }
      return filled === length ? out : out.subarray(0, filled);
    });
  }

  async blobExists(digest: string): Promise<number | undefined> {
    const response = await this.host.open({ method: 'HEAD', url: this.url('blobs', digest), scopes: this.scopes() }, [200, 404]);
    await response.body.dump();
    if (response.statusCode === 404) return undefined;
    const size = Number(headerValue(response.headers, 'content-length'));
    return Number.isSafeInteger(size) ? size : 0;
  }

  putBlob(digest: string, size: number, source: BlobSource, options: PutBlobOptions = {}): Promise<PutBlobResult> {
    return uploadBlob(this, digest, size, source, options);
  }

  listReferrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    return listReferrers(this, digest, artifactType);
  }

  attachReferrer(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    return attachReferrer(this, bytes, mediaType);
  }

  async close(): Promise<void> {
    await this.#onClose?.();
  }
}
