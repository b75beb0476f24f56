// The benchmarks' throttled registry proxy: bodies pass byte for byte, all connections share one token bucket, bytes and requests are counted.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { SeededRandom } from '../helpers/random.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { startThrottleProxy, TokenBucket, type ThrottleProxy } from '../helpers/throttle-proxy.js';

describe('TokenBucket', () => {
  it('lets a burst through at once, then spaces bytes at the rate, in call order', () => {
    let now = 1000;
    const bucket = new TokenBucket(1000, 100, () => now); // 1000 B/s, 100 B of credit
    expect(bucket.take(100)).toBe(0); // idle link: the burst is free
    expect(bucket.take(50)).toBeCloseTo(50); // 50 B more at 1 B/ms
    expect(bucket.take(50)).toBeCloseTo(100); // queued behind the previous reservation
    now += 1000; // a long idle time refills at most the burst
    expect(bucket.take(100)).toBe(0);
    expect(bucket.take(1)).toBeCloseTo(1);
  });
});

const skip = missingNeeds({ commands: ['docker-registry'] });

describe.skipIf(skip)('throttle proxy in front of a real registry', () => {
  const RATE = 4e6; // bytes/s
  const BURST = 64 * 1024;
  let registry: RegistryServer;
  let proxy: ThrottleProxy;
  const client = new RegistryClient();
  const blob = new SeededRandom('throttle-proxy').bytes(3 * 1024 * 1024 + 123);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;

  beforeAll(async () => {
    registry = await startRegistry();
    await client.repository(registry.host, 'test/throttle').putBlob(digest, blob.length, blob);
    proxy = await startThrottleProxy(registry.host, RATE, BURST);
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    await client.close();
  });

  it('forwards whole and ranged blob GETs byte for byte; concurrent transfers share one bucket (never faster than the rate)', async () => {
    const url = `http://${proxy.host}/v2/test/throttle/blobs/${digest}`;
    const t0 = performance.now();
    const [whole, part] = await Promise.all([fetch(url), fetch(url, { headers: { range: 'bytes=1000-1500999' } })]);
    const [wholeBytes, partBytes] = await Promise.all([whole.arrayBuffer(), part.arrayBuffer()]);
    const elapsedMs = performance.now() - t0;
    expect(whole.status).toBe(200);
    expect(part.status).toBe(206);
    expect(Buffer.from(wholeBytes).equals(blob)).toBe(true);
    expect(Buffer.from(partBytes).equals(blob.subarray(1000, 1501000))).toBe(true);
    const total = blob.length + 1_500_000;
    expect(proxy.bytes()).toBe(total);
    // Lower bound only (a loaded machine is slower, never faster): both bodies went through the same bucket.
    expect(elapsedMs).toBeGreaterThanOrEqual(((total - BURST) / RATE) * 1000 - 5);
    const gets = proxy.log.filter((r) => r.method === 'GET');
    expect(gets.map((r) => [r.range, r.status, r.bytes]).sort()).toEqual([[undefined, 200, blob.length], ['bytes=1000-1500999', 206, 1_500_000]].sort());
    for (const r of gets) expect(r.endMs).toBeGreaterThan(r.startMs);
  });

  it('reset clears the count and the log; upstream errors pass through as statuses', async () => {
    proxy.reset();
    expect(proxy.bytes()).toBe(0);
    expect(proxy.log).toEqual([]);
    const missing = await fetch(`http://${proxy.host}/v2/test/throttle/blobs/sha256:${'0'.repeat(64)}`);
    await missing.arrayBuffer();
    expect(missing.status).toBe(404);
    expect(proxy.log.map((r) => [r.method, r.status])).toEqual([['GET', 404]]);
  });
});
