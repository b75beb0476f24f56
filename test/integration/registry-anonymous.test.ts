// The registry client against a real distribution 2.8 without auth: manifests, blobs, ranges, uploads (0 B, 1 B, chunked ≥ 100 MB), mounts, limits.
import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isImageError } from '../../src/errors.js';
import { sha256Digest } from '../../src/format/oci/digest.js';
import { encodeManifest, type ImageIndex } from '../../src/format/oci/manifest.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { resolveImageManifest } from '../../src/registry/image-manifest.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { collect, makeTestImage, pushTestImage } from '../helpers/oci-image.js';
import { SeededRandom } from '../helpers/random.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 50 };

/** A deterministic stream of `total` bytes in `chunk`-sized pieces (never all in memory). */
function* patternChunks(total: number, chunk: number): Generator<Buffer> {
  const rnd = new SeededRandom('big-blob');
  const block = rnd.bytes(chunk);
  for (let off = 0, i = 0; off < total; off += chunk, i++) {
    const piece = Buffer.from(block.subarray(0, Math.min(chunk, total - off)));
    piece.writeUInt32LE(i, 0); // make chunks differ
    yield piece;
  }
}

/** Compares incoming chunks with a generator's output, whatever the chunk boundaries. */
class ByteCursor {
  readonly #source: Iterator<Buffer>;
  #current: Buffer = Buffer.alloc(0);
  #offset = 0;

  constructor(source: Iterator<Buffer>) {
    this.#source = source;
  }

  matches(got: Buffer): boolean {
    for (let i = 0; i < got.length; ) {
      if (this.#offset === this.#current.length) {
        const next = this.#source.next();
        if (next.done) return false;
        this.#current = next.value;
        this.#offset = 0;
      }
      const n = Math.min(got.length - i, this.#current.length - this.#offset);
      if (!got.subarray(i, i + n).equals(this.#current.subarray(this.#offset, this.#offset + n))) return false;
      i += n;
      this.#offset += n;
    }
    return true;
  }
}

describe.skipIf(missingNeeds({ commands: ['docker-registry'] }))('registry client, anonymous distribution 2.8', () => {
  let registry: RegistryServer;
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ retry: FAST_RETRY, repository: { uploadChunkBytes: 4 * 1024 * 1024 } });
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('pushes an image and reads it back by tag and digest, verified', async () => {
    const repo = client.repository(registry.host, 'test/anon');
    const image = await makeTestImage('anon-1');
    const pushed = await pushTestImage(repo, image, 'v1');
    expect(pushed.digest).toBe(image.manifest.digest);

    const resolved = await repo.resolve('v1');
    expect(resolved).toEqual({ mediaType: OCI_MANIFEST, digest: image.manifest.digest, size: image.manifestBytes.length });
    const byTag = await repo.getManifest('v1');
    expect(byTag.bytes.equals(image.manifestBytes)).toBe(true);
    const byDigest = await repo.getManifest(image.manifest.digest);
    expect(byDigest.bytes.equals(image.manifestBytes)).toBe(true);
    for (const [digest, bytes] of image.blobs) {
      expect((await collect(await repo.getBlob(digest))).equals(bytes)).toBe(true);
      expect(await repo.blobExists(digest)).toBe(bytes.length);
    }
    const again = await repo.putBlob(image.layers[0]!.digest, image.layers[0]!.size, image.blobs.get(image.layers[0]!.digest)!);
    expect(again.outcome).toBe('exists');
  });

  it('reads ranges (206) byte-exact, including the last byte and a range past the end', async () => {
    const repo = client.repository(registry.host, 'test/range');
    const data = new SeededRandom('range').bytes(300_000);
    const digest = sha256Digest(data);
    await repo.putBlob(digest, data.length, data);
    for (const [offset, length] of [[0, 1], [1, 4096], [123_457, 65_536], [data.length - 1, 1], [299_000, 1000]] as const) {
      expect((await repo.getBlobRange(digest, offset, length)).equals(data.subarray(offset, offset + length))).toBe(true);
    }
    const tail = await repo.getBlobRange(digest, data.length - 10, 100);
    expect(tail.equals(data.subarray(data.length - 10))).toBe(true);
  });

  it('uploads 0-byte and 1-byte blobs', async () => {
    const repo = client.repository(registry.host, 'test/tiny');
    for (const bytes of [Buffer.alloc(0), Buffer.from([0x5a])]) {
      const digest = sha256Digest(bytes);
      const result = await repo.putBlob(digest, bytes.length, bytes);
      expect(result.outcome).toBe('uploaded');
      expect(await repo.blobExists(digest)).toBe(bytes.length);
      expect((await collect(await repo.getBlob(digest, bytes.length))).equals(bytes)).toBe(true);
    }
  });

  it('uploads a 100 MiB streamed blob in PATCH chunks and streams it back verified', async () => {
    const repo = client.repository(registry.host, 'test/big');
    const total = 100 * 1024 * 1024;
    const chunk = 1024 * 1024 + 7; // not a multiple of the upload chunk size
    const hash = createHash('sha256');
    for (const piece of patternChunks(total, chunk)) hash.update(piece);
    const digest = `sha256:${hash.digest('hex')}`;
    const result = await repo.putBlob(digest, total, async function* () {
      yield* patternChunks(total, chunk);
    });
    expect(result.outcome).toBe('uploaded');
    expect(await repo.blobExists(digest)).toBe(total);
    // Stream it back and compare with the generator byte for byte (never the whole blob in memory).
    const expected = new ByteCursor(patternChunks(total, chunk));
    let seen = 0;
    for await (const got of await repo.getBlob(digest, total)) {
      expect(expected.matches(got as Buffer)).toBe(true);
      seen += (got as Buffer).length;
    }
    expect(seen).toBe(total);
    const range = await repo.getBlobRange(digest, 50 * 1024 * 1024, 4096);
    expect(range.length).toBe(4096);
  });

  it('mounts a blob from another repository and skips existing blobs', async () => {
    const source = client.repository(registry.host, 'test/mount-src');
    const target = client.repository(registry.host, 'test/mount-dst');
    const data = new SeededRandom('mount').bytes(10_000);
    const digest = sha256Digest(data);
    await source.putBlob(digest, data.length, data);
    const mounted = await target.putBlob(digest, data.length, data, { mountFrom: 'test/mount-src' });
    expect(mounted.outcome).toBe('mounted');
    expect((await collect(await target.getBlob(digest))).equals(data)).toBe(true);
  });

  it('selects the platform manifest from an index', async () => {
    const repo = client.repository(registry.host, 'test/multi');
    const amd = await makeTestImage('multi-amd64', 100, { os: 'linux', architecture: 'amd64' });
    const arm = await makeTestImage('multi-arm64', 100, { os: 'linux', architecture: 'arm64' });
    await pushTestImage(repo, amd);
    await pushTestImage(repo, arm);
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    };
    await repo.putManifest(encodeManifest(index), OCI_INDEX, 'multi');
    const got = await resolveImageManifest(repo, 'multi', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(got.result.bytes.equals(arm.manifestBytes)).toBe(true);
    expect(got.index?.result.descriptor.mediaType).toBe(OCI_INDEX);
    const amdGot = await resolveImageManifest(repo, 'multi', { os: 'linux', architecture: 'amd64' });
    expect(amdGot.result.bytes.equals(amd.manifestBytes)).toBe(true);
    await expect(resolveImageManifest(repo, 'multi', { os: 'linux', architecture: 's390x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reports missing content with NOT_FOUND and the OCI error code, and enforces the manifest size limit', async () => {
    const repo = client.repository(registry.host, 'test/anon');
    const missing = sha256Digest(Buffer.from('nope'));
    const err = await repo.getManifest('no-such-tag').catch((e: unknown) => e);
    expect(isImageError(err, 'NOT_FOUND')).toBe(true);
    expect(err).toMatchObject({ details: { method: 'GET', status: 404, ociCode: 'MANIFEST_UNKNOWN' } });
    expect((err as Error).message).toContain(`${registry.url}/v2/test/anon/manifests/no-such-tag`);
    await expect(repo.getBlob(missing)).rejects.toMatchObject({ code: 'NOT_FOUND', details: { ociCode: 'BLOB_UNKNOWN' } });
    expect(await repo.blobExists(missing)).toBeUndefined();

    const small = new RegistryClient({ retry: FAST_RETRY, repository: { maxManifestBytes: 100 } });
    try {
      await expect(small.repository(registry.host, 'test/anon').getManifest('v1')).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    } finally {
      await small.close();
    }
  });

  it('refuses a blob whose bytes do not match the digest before uploading', async () => {
    const repo = client.repository(registry.host, 'test/anon');
    const bytes = Buffer.from('real bytes');
    await expect(repo.putBlob(sha256Digest(Buffer.from('other')), bytes.length, bytes)).rejects.toMatchObject({ code: 'CORRUPT' });
    const streamed = repo.putBlob(sha256Digest(Buffer.from('other')), bytes.length, async function* () {
      yield bytes;
    });
    await expect(streamed).rejects.toMatchObject({ code: 'CORRUPT' });
  });
});
