// Blob uploads to a registry (distribution-spec 1.1 "Pushing blobs"): skip-existing, cross-repository mount, monolithic PUT, chunked PATCH.
import { setTimeout as sleep } from 'node:timers/promises';

import { ImageError } from '../errors.js';
import { hasherFor, parseDigest, verifyDigest } from '../format/oci/digest.js';
import { repositoryScope } from './authenticator.js';
import { headerValue } from './http-exchange.js';
import type { BlobSource, PutBlobOptions, PutBlobResult } from './image-store.js';
import type { RegistryRepository } from './repository.js';
import { isRetryable, redactUrl } from './registry-error.js';
import { retryDelayMs } from './retry.js';

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
  for (let restart = 0; ; restart++) {
    try {
      await sendSession(repo, location, scopes, digest, size, source);
      return { descriptor, outcome: 'uploaded' };
    } catch (err) {
      // A registry that cannot resume a session cut mid-chunk (distribution 2.8: BLOB_UPLOAD_INVALID) gets a fresh
      // session and a fresh source stream, a bounded number of times.
      if (restart >= MAX_UPLOAD_RESTARTS || !isSessionLost(err)) throw err;
      const again = await host.open({ method: 'POST', url: uploads, scopes }, [202]);
      await again.body.dump();
      location = uploadLocation(again.headers, uploads);
    }
  }
}

/** Whole-upload restarts after the registry lost a session. */
const MAX_UPLOAD_RESTARTS = 2;

function isSessionLost(err: unknown): boolean {
  const ociCode = (err as ImageError).details?.ociCode;
  return ociCode === 'BLOB_UPLOAD_INVALID' || ociCode === 'BLOB_UPLOAD_UNKNOWN';
}

/** Sends the blob into one upload session: one PUT for small in-memory blobs, else PATCH chunks and a closing PUT. */
async function sendSession(repo: RegistryRepository, start: string, scopes: string[], digest: string, size: number, source: BlobSource): Promise<void> {
  const host = repo.host;
  let location = start;
  if (source instanceof Uint8Array && size <= repo.options.uploadChunkBytes) {
    const done = await host.open({
      method: 'PUT',
      url: withDigest(location, digest),
      scopes,
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(source.buffer, source.byteOffset, source.byteLength),
    }, [201]);
    await done.body.dump();
    return;
  }
  const stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = source instanceof Uint8Array ? [source] : source();
  const hash = hasherFor(digest);
  let offset = 0;
  for await (const chunk of rechunk(stream, repo.options.uploadChunkBytes)) {
    hash.update(chunk);
    location = await sendChunk(repo, location, scopes, chunk, offset);
    offset += chunk.length;
  }
  const actual = `${parseDigest(digest).algorithm}:${hash.digest('hex')}`;
  if (offset !== size || actual !== digest) {
    // Abandon the session so the registry can drop the partial upload.
    await host.exchange({ method: 'DELETE', url: location, scopes }, [204, 404]).then((r) => r.body.dump(), () => undefined);
    throw new ImageError('CORRUPT', `blob ${digest}: the source produced ${offset} bytes hashing to ${actual}`, { details: { expected: digest, actual, size, produced: offset } });
  }
  const done = await host.open({ method: 'PUT', url: withDigest(location, digest), scopes }, [201]);
  await done.body.dump();
}

/** Bytes the registry holds for an upload session (distribution-spec 1.1: `GET <location>` → 204, `Range: 0-<last>`). */
async function uploadProgress(repo: RegistryRepository, location: string, scopes: string[]): Promise<{ received: number; location: string }> {
  const res = await repo.host.open({ method: 'GET', url: location, scopes }, [204]);
  await res.body.dump();
  const m = /^(?:bytes=)?0-(-?\d+)$/.exec(headerValue(res.headers, 'range') ?? '0--1');
  if (!m) throw new ImageError('UNAVAILABLE', 'registry reported an unreadable upload Range', { details: { url: redactUrl(location), retryable: false } });
  return { received: Number(m[1]) + 1, location: uploadLocation(res.headers, location) };
}

/**
 * PATCHes one chunk at `offset`. After a transient failure the registry is asked how much arrived and the rest of the
 * chunk is sent from there, so a connection dropped mid-chunk neither duplicates nor loses bytes. Returns the next Location.
 */
async function sendChunk(repo: RegistryRepository, location: string, scopes: string[], chunk: Buffer, offset: number): Promise<string> {
  const host = repo.host;
  let sent = 0;
  for (let failures = 0; ; ) {
    try {
      const res = await host.exchange({
        method: 'PATCH',
        url: location,
        scopes,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset + sent}-${offset + chunk.length - 1}` },
        body: chunk.subarray(sent),
      }, [202]);
      await res.body.dump();
      return uploadLocation(res.headers, location);
    } catch (err) {
      if (!isRetryable(err) || failures >= host.retry.maxRetries) throw err;
      const retryAfter = (err as ImageError).details.retryAfterMs;
      await sleep(retryDelayMs(host.retry, failures++, typeof retryAfter === 'number' ? retryAfter : undefined));
      const progress = await uploadProgress(repo, location, scopes);
      if (progress.received < offset || progress.received > offset + chunk.length) {
        throw new ImageError('UNAVAILABLE', `upload of ${chunk.length} bytes at ${offset} was interrupted and the registry holds ${progress.received}`, {
          details: { url: redactUrl(location), retryable: false },
          hint: 'retry the push; the interrupted upload session is abandoned',
          cause: err,
        });
      }
      sent = progress.received - offset;
      location = progress.location;
      if (sent === chunk.length) return location;
    }
  }
}

function uploadLocation(headers: Record<string, string | string[] | undefined>, base: string): string {
  const location = headerValue(headers, 'location');
  if (!location) throw new ImageError('UNAVAILABLE', `registry started an upload without a Location header`, { details: { url: redactUrl(base), retryable: false } });
  return new URL(location, base).toString();
}
