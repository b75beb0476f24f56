// Fault injection between the client and a real registry: every fault ends in correct bytes after retries, or in a clear error — never wrong data.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { ImageError, isImageError } from '../../src/errors.js';
import { sha256Digest } from '../../src/format/oci/digest.js';
import { explicitCredentials } from '../../src/registry/credentials.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { collect, makeTestImage, pushTestImage, type TestImage } from '../helpers/oci-image.js';
import { SeededRandom } from '../helpers/random.js';
import { startRegistry, TEST_USER, type RegistryServer } from '../helpers/registry-server.js';

const RETRY = { baseDelayMs: 5, maxDelayMs: 2000, maxRetries: 3 };
const BLOB = new SeededRandom('fault-blob').bytes(2 * 1024 * 1024 + 123);
const BLOB_DIGEST = sha256Digest(BLOB);

describe.skipIf(missingNeeds({ commands: ['docker-registry', 'htpasswd'] }))('registry client through a fault-injecting proxy', () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let image: TestImage;

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    client = new RegistryClient({ retry: RETRY, bodyIdleTimeoutMs: 2000 });
    const direct = new RegistryClient();
    try {
      const repo = direct.repository(registry.host, 'fault/app');
      image = await makeTestImage('faults');
      await pushTestImage(repo, image, 'v1');
      await repo.putBlob(BLOB_DIGEST, BLOB.length, BLOB);
    } finally {
      await direct.close();
    }
  });
  beforeEach(() => proxy.reset());
  afterAll(async () => {
    await client?.close();
    await proxy?.stop();
    await registry?.stop();
  });

  const repo = () => client.repository(proxy.host, 'fault/app');
  const isBlobGet = (r: { method: string; path: string }) => r.method === 'GET' && r.path.includes(`/blobs/${BLOB_DIGEST}`);

  it('503 then success: retried', async () => {
    proxy.plan = (r) => (r.path.includes('/manifests/') && r.seen === 0 ? { kind: 'status', status: 503 } : undefined);
    expect((await repo().getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
    expect(proxy.log.filter((l) => l.path.includes('/manifests/')).length).toBe(2);
  });

  it('429 with Retry-After: waits the announced time, then succeeds', async () => {
    proxy.plan = (r) => (r.path.includes('/manifests/') && r.seen === 0 ? { kind: 'status', status: 429, retryAfterS: 1 } : undefined);
    const started = Date.now();
    expect((await repo().getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('a 503 that never ends: UNAVAILABLE after the bounded retries, with method, URL and status', async () => {
    proxy.plan = (r) => (r.path.includes('/manifests/') ? { kind: 'status', status: 503 } : undefined);
    const err = await repo().getManifest('v1').catch((e: unknown) => e);
    expect(isImageError(err, 'UNAVAILABLE')).toBe(true);
    expect(err).toMatchObject({ details: { method: 'GET', status: 503, ociCode: 'UNAVAILABLE' } });
    expect(proxy.log.length).toBe(RETRY.maxRetries + 1);
  });

  it('connection reset mid-body on a blob: resumed with Range, bytes exact', async () => {
    proxy.plan = (r) => (isBlobGet(r) && r.seen < 2 ? { kind: 'reset', afterBytes: 700_000 } : undefined);
    const got = await collect(await repo().getBlob(BLOB_DIGEST));
    expect(got.equals(BLOB)).toBe(true);
    // Each resume asks for the bytes after the last one received (how many arrived before a reset depends on socket buffers).
    const ranges = proxy.log.filter(isBlobGet).map((l) => l.range);
    expect(ranges[0]).toBeUndefined();
    expect(ranges.length).toBeGreaterThanOrEqual(3);
    const starts = ranges.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? '')?.[1]));
    for (let i = 0; i < starts.length; i++) expect(starts[i]).toBeGreaterThan(i === 0 ? 0 : starts[i - 1]!);
  });

  it('connection reset mid-body on a manifest and on a range read: retried whole', async () => {
    proxy.plan = (r) => (r.seen === 0 ? { kind: 'reset', afterBytes: 100 } : undefined);
    expect((await repo().getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
    const range = await repo().getBlobRange(BLOB_DIGEST, 1000, 300_000);
    expect(range.equals(BLOB.subarray(1000, 301_000))).toBe(true);
  });

  it('a server that ignores Range (200 with the whole blob): range reads and resumes skip forward', async () => {
    proxy.plan = (r) => (isBlobGet(r) ? { kind: 'ignore-range' } : undefined);
    const range = await repo().getBlobRange(BLOB_DIGEST, 1_000_000, 65_536);
    expect(range.equals(BLOB.subarray(1_000_000, 1_065_536))).toBe(true);
    expect((await repo().getBlobRange(BLOB_DIGEST, BLOB.length - 5, 100)).equals(BLOB.subarray(BLOB.length - 5))).toBe(true);
    proxy.plan = (r) => (isBlobGet(r) ? (r.seen === 0 ? { kind: 'reset', afterBytes: 500_000 } : { kind: 'ignore-range' }) : undefined);
    expect((await collect(await repo().getBlob(BLOB_DIGEST))).equals(BLOB)).toBe(true);
  });

  it('a consumer that stops early releases the connection cleanly', async () => {
    const stream = await repo().getBlob(BLOB_DIGEST);
    for await (const chunk of stream) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    expect(stream.destroyed).toBe(true);
    expect((await repo().getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
  });

  it('uploads through a 503 (resumed at the registry\'s upload Range) and a connection cut mid-PATCH (distribution 2.8 drops that session: restarted)', async () => {
    const uploader = new RegistryClient({ retry: RETRY, repository: { uploadChunkBytes: 1024 * 1024 } });
    const direct = new RegistryClient();
    try {
      for (const [label, fault] of [
        ['503', { kind: 'status', status: 503 }],
        ['reset', { kind: 'reset-request', afterBytes: 300_000 }],
      ] as const) {
        proxy.reset();
        const data = new SeededRandom(`upload-${label}`).bytes(3 * 1024 * 1024 + 5);
        const digest = sha256Digest(data);
        proxy.plan = (r) => (r.method === 'PATCH' && proxy.log.filter((l) => l.method === 'PATCH').length === 2 ? fault : undefined);
        const result = await uploader.repository(proxy.host, 'fault/upload').putBlob(digest, data.length, async function* () {
          yield data;
        });
        expect(result.outcome).toBe('uploaded');
        expect(proxy.log.some((l) => l.fault === fault.kind)).toBe(true);
        expect((await collect(await direct.repository(registry.host, 'fault/upload').getBlob(digest))).equals(data)).toBe(true);
      }
    } finally {
      await uploader.close();
      await direct.close();
    }
  });

  it('slow trickle: completes with exact bytes', async () => {
    proxy.plan = (r) => (r.path.includes('/manifests/') ? { kind: 'trickle', chunkBytes: 50, delayMs: 5 } : undefined);
    expect((await repo().getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
  });

  it('a stalled body times out and is resumed', async () => {
    proxy.plan = (r) => (isBlobGet(r) && r.seen === 0 ? { kind: 'stall', afterBytes: 1_000_000 } : undefined);
    expect((await collect(await repo().getBlob(BLOB_DIGEST))).equals(BLOB)).toBe(true);
    expect(Number(/^bytes=(\d+)-$/.exec(proxy.log.filter(isBlobGet)[1]?.range ?? '')?.[1])).toBeGreaterThan(0);
  });

  it('flipped bytes: CORRUPT for a blob stream and for a manifest, never silent', async () => {
    proxy.plan = (r) => (isBlobGet(r) ? { kind: 'flip', offset: 1_234_567 } : undefined);
    const err = await collect(await repo().getBlob(BLOB_DIGEST)).catch((e: unknown) => e);
    expect(isImageError(err, 'CORRUPT')).toBe(true);
    expect((err as ImageError).details.expected).toBe(BLOB_DIGEST);
    proxy.plan = (r) => (r.path.includes('/manifests/') ? { kind: 'flip', offset: 10 } : undefined);
    await expect(repo().getManifest(image.manifest.digest)).rejects.toMatchObject({ code: 'CORRUPT' });
    await expect(repo().getManifest('v1')).rejects.toMatchObject({ code: 'CORRUPT' });
  });
});

describe.skipIf(missingNeeds({ commands: ['docker-registry', 'htpasswd'] }))('redirects to storage', () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let storage: Server;
  let storageSaw: IncomingHttpHeaders[];

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    proxy = await startFaultProxy(registry.host);
    storageSaw = [];
    storage = createServer((req, res) => {
      storageSaw.push(req.headers);
      res.writeHead(200, { 'content-length': String(BLOB.length) });
      res.end(BLOB);
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    await new Promise<void>((resolve) => (storage ? storage.close(() => resolve()) : resolve()));
  });

  it('follows a 307 to another origin without forwarding Authorization', async () => {
    const client = new RegistryClient({ retry: RETRY, credentials: explicitCredentials(TEST_USER.username, TEST_USER.password) });
    try {
      const repo = client.repository(proxy.host, 'redir/app');
      await repo.putBlob(BLOB_DIGEST, BLOB.length, BLOB);
      const port = (storage.address() as AddressInfo).port;
      proxy.plan = (r) => (r.method === 'GET' && r.path.includes('/blobs/') ? { kind: 'redirect', location: `http://127.0.0.1:${port}/bucket/blob?X-Signature=secret` } : undefined);
      expect((await collect(await repo.getBlob(BLOB_DIGEST))).equals(BLOB)).toBe(true);
      expect(storageSaw.length).toBe(1);
      expect(storageSaw[0]!.authorization).toBeUndefined();
      expect(proxy.log.find((l) => l.method === 'GET' && l.path.includes('/blobs/'))).toBeDefined();
    } finally {
      await client.close();
    }
  });
});
