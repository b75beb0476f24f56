// Verified blob downloads from a registry: streamed, resumed with Range after a dropped connection, digest-checked at the end.
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { ImageError } from '../errors.js';
import { hasherFor, parseDigest } from '../format/oci/digest.js';
import { headerValue, type HttpResponse } from './http-exchange.js';
import type { RegistryHost } from './registry-host.js';
import { isRetryable, networkError, redactUrl } from './registry-error.js';
import { retryDelayMs } from './retry.js';
import { discardBody } from './response-body.js';

/** Resumptions of one download, in total. */
const MAX_RESUMES = 100;

/** Where a 206 answer starts (`Content-Range: bytes <start>-<end>/<total>`), or undefined. */
export function contentRangeStart(headers: HttpResponse['headers']): number | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\//.exec(headerValue(headers, 'content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Opens a blob for streaming. The first request happens now (so NOT_FOUND rejects the promise); later connection
 * failures resume from the last byte received with `Range` (a server answering 200 instead is skipped forward).
 * The stream fails with CORRUPT when the total size or the digest is wrong, so no wrong byte passes unnoticed.
 */
export async function openVerifiedBlob(host: RegistryHost, url: string, scopes: string[], digest: string, size?: number): Promise<Readable> {
  const { algorithm } = parseDigest(digest);
  const first = await host.open({ method: 'GET', url, scopes }, [200]);
  const declared = Number(headerValue(first.headers, 'content-length') ?? NaN);
  const expectedSize = size ?? (Number.isSafeInteger(declared) ? declared : undefined);
  if (size !== undefined && Number.isSafeInteger(declared) && declared !== size) {
    discardBody(first.body);
    throw new ImageError('CORRUPT', `blob ${digest}: registry says ${declared} bytes, the descriptor says ${size}`, { details: { digest, url: redactUrl(url) } });
  }

  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const hash = hasherFor(digest);
  let received = 0;

  /** Copies one response body into `out` ('data' events with backpressure: cheaper than async iteration). */
  const copy = (response: HttpResponse) =>
    new Promise<void>((resolve, reject) => {
      const body = response.body;
      let skip = received > 0 && response.statusCode === 200 ? received : 0;
      const onClose = () => {
        discardBody(body);
        resolve();
      };
      out.once('close', onClose);
      body.on('data', (raw: Buffer) => {
        let chunk = raw;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            return;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        if (expectedSize !== undefined && received + chunk.length > expectedSize) {
          body.destroy(new ImageError('CORRUPT', `blob ${digest}: more than the expected ${expectedSize} bytes`, { details: { digest, url: redactUrl(url) } }));
          return;
        }
        hash.update(chunk);
        received += chunk.length;
        if (!out.write(chunk)) {
          body.pause();
          out.once('drain', () => body.resume());
        }
      });
      body.once('end', () => {
        out.off('close', onClose);
        resolve();
      });
      body.once('error', (err) => {
        out.off('close', onClose);
        reject(err);
      });
    });

  const pump = async () => {
    let failures = 0;
    let resumes = 0;
    let receivedAtFailure = -1;
    let current: HttpResponse = first;
    for (;;) {
      if (received > 0 && current.statusCode === 206 && contentRangeStart(current.headers) !== received) {
        discardBody(current.body);
        throw new ImageError('CORRUPT', `blob ${digest}: resumed at ${received} but the registry answered another range`, { details: { digest, url: redactUrl(url) } });
      }
      try {
        await copy(current);
        if (out.destroyed) return;
        if (expectedSize !== undefined && received < expectedSize) {
          throw Object.assign(new Error(`body ended at ${received} of ${expectedSize} bytes`), { code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' });
        }
        break;
      } catch (err) {
        const error = networkError('GET', url, err);
        // Progress since the last failure earns a fresh retry budget; MAX_RESUMES bounds a connection that always breaks.
        if (received > receivedAtFailure) failures = 0;
        receivedAtFailure = received;
        if (!isRetryable(error) || failures >= host.retry.maxRetries || ++resumes > MAX_RESUMES) throw error;
        await sleep(retryDelayMs(host.retry, failures));
        failures++;
        if (out.destroyed) return;
        current = await host.open({ method: 'GET', url, scopes, headers: { range: `bytes=${received}-` } }, [200, 206]);
        if (out.destroyed) {
          discardBody(current.body);
          return;
        }
      }
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (actual !== digest) {
      throw new ImageError('CORRUPT', `blob ${digest}: digest mismatch after ${received} bytes`, { details: { expected: digest, actual, size: received, url: redactUrl(url) } });
    }
    out.end();
  };
  pump().catch((err: unknown) => out.destroy(err as Error));
  return out;
}
