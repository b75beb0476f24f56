// Background fetch: downloads whole layer blobs after open (rate-limited), digest-verified, into local files the span fetchers then read.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';

import { ImageError } from '../errors.js';
import { parseDigest } from '../format/oci/digest.js';
import type { ImageStore } from '../registry/image-store.js';
import type { BackstoreMetrics } from './backstore-metrics.js';

/** Options of downloadLayer. */
export interface LayerDownloadOptions {
  store: ImageStore;
  digest: string;
  size: number;
  /** Directory of the local layer copies (`<dir>/<hex>`). */
  dir: string;
  metrics: BackstoreMetrics;
  /** Shared rate limit; undefined means as fast as the registry sends. */
  limiter?: RateLimiter | undefined;
  /** Set to stop the download (the temp file is removed). */
  signal: AbortSignal;
}

/** A token bucket shared by every download of one device: `bytesPerSecond` on average. */
export class RateLimiter {
  readonly #rate: number;
  #next = 0;

  constructor(bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new ImageError('INVALID_ARGUMENT', 'the background fetch rate must be positive', { details: { bytesPerSecond } });
    this.#rate = bytesPerSecond;
  }

  /** Resolves when `bytes` more may be taken. */
  async take(bytes: number): Promise<void> {
    const now = performance.now();
    this.#next = Math.max(now, this.#next) + (bytes / this.#rate) * 1000;
    const wait = this.#next - now - 50; // allow a 50 ms burst
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** The local copy of a layer when a finished (verified) one exists. */
export function localLayerPath(dir: string, digest: string, size: number): string | undefined {
  const file = path.join(dir, parseDigest(digest).hex);
  try {
    return existsSync(file) && statSync(file).size === size ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Downloads the layer to `<dir>/<hex>` (temp file + rename after the sha256 matched); returns the path. */
export async function downloadLayer(o: LayerDownloadOptions): Promise<string> {
  const have = localLayerPath(o.dir, o.digest, o.size);
  if (have) return have;
  mkdirSync(o.dir, { recursive: true });
  const { hex } = parseDigest(o.digest);
  const file = path.join(o.dir, hex);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const out = createWriteStream(tmp);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    o.metrics.requests++;
    const stream = await o.store.getBlob(o.digest, o.size);
    const stop = (): void => void stream.destroy(new ImageError('FAILED_PRECONDITION', 'background fetch stopped'));
    o.signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        o.signal.throwIfAborted();
        await o.limiter?.take(chunk.length);
        hash.update(chunk);
        bytes += chunk.length;
        o.metrics.bytesFetched += chunk.length;
        if (!out.write(chunk)) await once(out, 'drain');
      }
    } finally {
      o.signal.removeEventListener('abort', stop);
    }
    out.end();
    await once(out, 'finish');
    if (bytes !== o.size || hash.digest('hex') !== hex) {
      o.metrics.verificationFailures++;
      throw new ImageError('CORRUPT', `layer ${o.digest} downloaded in the background does not match its digest`, { details: { layer: o.digest, bytes, size: o.size } });
    }
    await rename(tmp, file);
    return file;
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}
