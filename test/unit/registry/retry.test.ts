// Retry policy: Retry-After parsing, backoff bounds, and which failures are retried.
import { describe, expect, it } from 'vitest';

import { ImageError } from '../../../src/errors.js';
import { codeForStatus, httpError, redactUrl } from '../../../src/registry/registry-error.js';
import { parseRetryAfter, retryDelayMs, withRetries } from '../../../src/registry/retry.js';

const POLICY = { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 8 };

describe('retry', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('2026-01-01T00:00:00Z'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('keeps delays within half and all of the doubling ceiling, capped, and honours Retry-After up to the cap', () => {
    const policy = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    for (let attempt = 0; attempt < 6; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** attempt);
      expect(retryDelayMs(policy, attempt, undefined, () => 0)).toBe(ceiling / 2);
      expect(retryDelayMs(policy, attempt, undefined, () => 0.999)).toBeLessThanOrEqual(ceiling);
    }
    expect(retryDelayMs(policy, 0, 500)).toBe(500);
    expect(retryDelayMs(policy, 0, 60_000)).toBe(1000);
  });

  it('retries UNAVAILABLE/TIMEOUT a bounded number of times and nothing else', async () => {
    let calls = 0;
    const unavailable = () => new ImageError('UNAVAILABLE', 'x');
    await expect(withRetries(POLICY, async () => { calls++; throw unavailable(); })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(calls).toBe(4);
    calls = 0;
    await expect(withRetries(POLICY, async () => { calls++; throw new ImageError('NOT_FOUND', 'x'); })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(calls).toBe(1);
    calls = 0;
    expect(await withRetries(POLICY, async (n) => { calls++; if (n < 2) throw unavailable(); return 'ok'; })).toBe('ok');
    expect(calls).toBe(3);
  });

  it('maps statuses and OCI codes, and keeps secrets out of URLs', () => {
    expect(codeForStatus(401)).toBe('UNAUTHENTICATED');
    expect(codeForStatus(403)).toBe('PERMISSION_DENIED');
    expect(codeForStatus(404)).toBe('NOT_FOUND');
    expect(codeForStatus(429)).toBe('UNAVAILABLE');
    expect(codeForStatus(503)).toBe('UNAVAILABLE');
    expect(codeForStatus(400, 'DIGEST_INVALID')).toBe('CORRUPT');
    expect(codeForStatus(401, 'DENIED')).toBe('PERMISSION_DENIED');
    expect(redactUrl('https://user:pw@s3.example/bucket/blob?X-Amz-Signature=abc')).toBe('https://s3.example/bucket/blob?…');
    const err = httpError({ method: 'GET', url: 'https://u:p@r.io/v2/a/manifests/t?x=1', status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}' });
    expect(err.code).toBe('NOT_FOUND');
    expect(err.details).toMatchObject({ method: 'GET', url: 'https://r.io/v2/a/manifests/t?…', status: 404, ociCode: 'MANIFEST_UNKNOWN' });
    expect(err.message).not.toContain('u:p');
  });
});
