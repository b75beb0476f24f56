// Blob uploads to a registry (distribution-spec 1.1 "Pushing blobs"): skip-existing, cross-repository mount, monolithic PUT, chunked PATCH.
import { ImageError } from '../errors.js';
import { hasherFor, parseDigest, verifyDigest } from '../format/oci/digest.js';
import { repositoryScope } from './authenticator.js';
import { headerValue } from './http-exchange.js';
import type { BlobSource, PutBlobOptions, PutBlobResult } from './image-store.js';
import type { RegistryRepository } from './repository.js';
import { redactUrl } from './registry-error.js';

/** Re-chunks a stream into buffers of exactly `chunkBytes` (the last may be shorter). */
async function* rechunk(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, chunkBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (pendingBytes + buf.length >= chunkBytes) {
      const take = chunkBytes - pendingBytes;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending, chunkBytes);
      pending = [];
      pendingBytes = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      // copy: the producer may reuse its buffer
      pending.push(Buffer.from(buf));
      pendingBytes += buf.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** Appends `digest=<d>` to an upload Location (which may already carry a query). */
function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** Uploads one blob: HEAD (skip), mount (when `mountFrom`), then one PUT or PATCH chunks + closing PUT. */
export async function uploadBlob(repo: RegistryRepository, digest: string, size: number, source: BlobSource, options: PutBlobOptions): Promise<PutBlobResult> {
  parseDigest(digest);
  const descriptor = { digest, size };
  if (source instanceof Uint8Array) {
    if (source.byteLength !== size) throw new ImageError('INVALID_ARGUMENT', `blob ${digest}: ${source.byteLength} bytes given, size says ${size}`);
    verifyDigest(source, digest, `blob ${digest}`);
  }
  if ((await repo.blobExists(digest)) !== undefined) return { descriptor, outcome: 'exists' };

  const host = repo.host;
  const uploads = host.url(`/v2/${repo.name}/blobs/uploads/`);
  let startUrl = uploads;
  let scopes = repo.scopes(true);
  if (options.mountFrom && options.mountFrom !== repo.name) {
    startUrl = `${uploads}?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(options.mountFrom)}`;
    scopes = [...scopes, repositoryScope(options.mountFrom, 'pull')];
  }
  const started = await host.open({ method: 'POST', url: startUrl, scopes }, [201, 202]);
  await started.body.dump();
  if (started.statusCode === 201) return { descriptor, outcome: 'mounted' };
  let location = uploadLocation(started.headers, startUrl);

  if (source instanceof Uint8Array && size <= repo.options.uploadChunkBytes) {
    const done = await host.open({
      method: 'PUT',
      url: withDigest(location, digest),
      scopes,
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(source.buffer, source.byteOffset, source.byteLength),
    }, [201]);
    await done.body.dump();
    return { descriptor, outcome: 'uploaded' };
  }

  const stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = source instanceof Uint8Array ? [source] : source();
  const hash = hasherFor(digest);
  let offset = 0;
  for await (const chunk of rechunk(stream, repo.options.uploadChunkBytes)) {
    hash.update(chunk);
    const res = await host.open({
      method: 'PATCH',
      url: location,
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
      body: chunk,
    }, [202]);
    await res.body.dump();
    offset += chunk.length;
    location = uploadLocation(res.headers, location);
  }
  const actual = `${parseDigest(digest).algorithm}:${hash.digest('hex')}`;
  if (offset !== size || actual !== digest) {
    // Abandon the session so the registry can drop the partial upload.
    await host.exchange({ method: 'DELETE', url: location, scopes }, [204, 404]).then((r) => r.body.dump(), () => undefined);
    throw new ImageError('CORRUPT', `blob ${digest}: the source produced ${offset} bytes hashing to ${actual}`, { details: { expected: digest, actual, size, produced: offset } });
  }
  const done = await host.open({ method: 'PUT', url: withDigest(location, digest), scopes }, [201]);
  await done.body.dump();
  return { descriptor, outcome: 'uploaded' };
}

function uploadLocation(headers: Record<string, string | string[] | undefined>, base: string): string {
  const location = headerValue(headers, 'location');
  if (!location) throw new ImageError('UNAVAILABLE', `registry started an upload without a Location header`, { details: { url: redactUrl(base), retryable: false } });
  return new URL(location, base).toString();
}
