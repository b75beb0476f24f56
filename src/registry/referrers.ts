// Referrers of a manifest in a registry (distribution-spec 1.1 "Listing Referrers"): the API when served, else the `<alg>-<hex>` tag-schema fallback.
import { setTimeout as sleep } from 'node:timers/promises';

import { ImageError, isImageError } from '../errors.js';
import { parseDigest } from '../format/oci/digest.js';
import { artifactTypeOf, encodeManifest, parseManifest, type Descriptor, type ImageIndex } from '../format/oci/manifest.js';
import { OCI_INDEX } from '../format/oci/media-types.js';
import { headerValue } from './http-exchange.js';
import { nextLink } from './link-header.js';
import type { RegistryRepository } from './repository.js';

/** Whether a registry serves the referrers API: unknown until first asked. */
export interface ReferrersState {
  api: boolean | undefined;
}

/** Index pages we follow before calling a Link chain a loop. */
const MAX_REFERRER_PAGES = 1000;

/** The fallback tag for a subject digest (distribution-spec 1.1 "Referrers Tag Schema"): `<alg>-<hex truncated to 64>`. */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex.slice(0, 64)}`;
}

function filterByType(descriptors: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? descriptors : descriptors.filter((d) => d.artifactType === artifactType);
}

function parseIndex(bytes: Buffer, what: string): ImageIndex {
  const { manifest } = parseManifest(bytes, OCI_INDEX);
  if (!('manifests' in manifest)) throw new ImageError('CORRUPT', `${what} is not an image index`);
  return manifest;
}

/** Lists referrers of `digest`: the API first (Link pagination, client-side filter unless `OCI-Filters-Applied: artifactType`), then the fallback tag. */
export async function listReferrers(repo: RegistryRepository, digest: string, artifactType?: string): Promise<Descriptor[]> {
  parseDigest(digest);
  if (repo.referrers.api !== false) {
    let url: string | undefined = repo.url('referrers', digest) + (artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '');
    const found: Descriptor[] = [];
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_REFERRER_PAGES) throw new ImageError('LIMIT_EXCEEDED', `referrers of ${digest}: more than ${MAX_REFERRER_PAGES} pages`);
      const pageUrl: string = url;
      let result;
      try {
        result = await repo.host.fetch({ method: 'GET', url: pageUrl, headers: { accept: OCI_INDEX }, scopes: repo.scopes() }, [200], repo.options.maxManifestBytes, 'referrers index');
      } catch (err) {
        // Registries without the API answer 404 (distribution 2.8: a plain-text router 404) — use the tag schema.
        if (page === 0 && isImageError(err, 'NOT_FOUND')) {
          repo.referrers.api = false;
          break;
        }
        throw err;
      }
      repo.referrers.api = true;
      const index = parseIndex(result.body, 'referrers response');
      const applied = (headerValue(result.response.headers, 'oci-filters-applied') ?? '').split(',').map((s) => s.trim());
      found.push(...(applied.includes('artifactType') ? index.manifests : filterByType(index.manifests, artifactType)));
      url = nextLink(headerValue(result.response.headers, 'link'), pageUrl);
    }
    if (repo.referrers.api) return found;
  }
  return filterByType((await readFallback(repo, digest)).manifests, artifactType);
}

async function readFallback(repo: RegistryRepository, digest: string): Promise<ImageIndex> {
  return (await readFallbackVersion(repo, digest)).index;
}

/** The fallback index and the digest of its current version (undefined when the tag does not exist). */
async function readFallbackVersion(repo: RegistryRepository, digest: string): Promise<{ index: ImageIndex; version: string | undefined }> {
  try {
    const { bytes, descriptor } = await repo.getManifest(referrersTag(digest));
    return { index: parseIndex(bytes, `referrers fallback ${referrersTag(digest)}`), version: descriptor.digest };
  } catch (err) {
    if (isImageError(err, 'NOT_FOUND')) return { index: { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }, version: undefined };
    throw err;
  }
}

/** The digest the fallback tag points to now (a HEAD), undefined when it does not exist. */
async function fallbackVersion(repo: RegistryRepository, digest: string): Promise<string | undefined> {
  try {
    return (await repo.resolve(referrersTag(digest))).digest;
  } catch (err) {
    if (isImageError(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
}

/** The referrers-index descriptor of a manifest (distribution-spec 1.1): artifactType and annotations copied from it. */
export function referrerDescriptor(bytes: Uint8Array, descriptor: Descriptor): { subject: string; entry: Descriptor } {
  const { manifest } = parseManifest(bytes, descriptor.mediaType);
  if (!manifest.subject) throw new ImageError('INVALID_ARGUMENT', 'a referrer manifest needs a subject');
  const entry: Descriptor = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
  const artifactType = artifactTypeOf(manifest);
  if (artifactType !== undefined) entry.artifactType = artifactType;
  if (manifest.annotations) entry.annotations = manifest.annotations;
  return { subject: manifest.subject.digest, entry };
}

/**
 * Pushes a manifest with a subject. When the registry does not answer `OCI-Subject`, adds it to the fallback index by
 * read-modify-write. Distribution 2.8 has no conditional PUT, so the write is made optimistic by hand: right before
 * the PUT the tag is checked (HEAD) to still point at the version we merged into (else merge again), which shrinks a
 * concurrent writer's stale window to one round trip. After the PUT we wait at least twice that check-to-write time
 * (and at least `referrersSettleMs`) and re-read: if a concurrent stale write dropped our entry, we merge again.
 */
export async function attachReferrer(repo: RegistryRepository, bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
  const pushed = await repo.pushManifest(bytes, mediaType);
  const { subject, entry } = referrerDescriptor(bytes, pushed.descriptor);
  if (pushed.ociSubject !== undefined) return pushed.descriptor;
  const tag = referrersTag(subject);
  const { referrersMaxAttempts, referrersSettleMs } = repo.options;
  const jitter = () => Math.round(Math.random() * referrersSettleMs);
  for (let attempt = 0; attempt < referrersMaxAttempts; attempt++) {
    const { index: current, version } = await readFallbackVersion(repo, subject);
    let window = 0;
    if (!current.manifests.some((d) => d.digest === entry.digest)) {
      const next: ImageIndex = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...current.manifests, entry] };
      const checked = Date.now();
      if ((await fallbackVersion(repo, subject)) !== version) {
        await sleep(jitter());
        continue; // someone wrote since our read: merge into their version
      }
      await repo.pushManifest(encodeManifest(next), OCI_INDEX, tag);
      window = Date.now() - checked;
    } else if (attempt > 0) {
      return pushed.descriptor;
    }
    await sleep(Math.max(referrersSettleMs, 2 * window) + jitter());
    const after = await readFallback(repo, subject);
    if (after.manifests.some((d) => d.digest === entry.digest)) return pushed.descriptor;
  }
  throw new ImageError('FAILED_PRECONDITION', `referrers fallback ${tag}: concurrent writers kept replacing it`, {
    details: { tag, attempts: referrersMaxAttempts, referrer: entry.digest },
    hint: 'retry later; the referrer manifest itself was pushed',
  });
}
