// The ImageStore contract as a reusable vitest suite: any implementation (registry, layout, caches) runs the same checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sha256Digest } from '../../src/format/oci/digest.js';
import { OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import type { ImageStore } from '../../src/registry/image-store.js';
import { collect, makeTestImage, pushArtifact, pushTestImage } from './oci-image.js';
import { SeededRandom } from './random.js';

/** The ImageStore contract; `open` gives a fresh, empty store. */
export function imageStoreSuite(name: string, open: () => Promise<ImageStore>, skip?: string): void {
  describe.skipIf(skip !== undefined)(`ImageStore contract: ${name}`, () => {
    let store: ImageStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });

    it('stores blobs of 0 B, 1 B and streamed, reports them, and reads them back whole and in ranges', async () => {
      const data = new SeededRandom(`conformance-${name}`).bytes(200_001);
      for (const bytes of [Buffer.alloc(0), Buffer.from([7]), data]) {
        const digest = sha256Digest(bytes);
        expect(await store.blobExists(digest)).toBeUndefined();
        const put = await store.putBlob(digest, bytes.length, async function* () {
          for (let i = 0; i < bytes.length; i += 65_536) yield bytes.subarray(i, i + 65_536);
        });
        expect(put.outcome).toBe('uploaded');
        expect((await store.putBlob(digest, bytes.length, bytes)).outcome).toBe('exists');
        expect(await store.blobExists(digest)).toBe(bytes.length);
        expect((await collect(await store.getBlob(digest, bytes.length))).equals(bytes)).toBe(true);
      }
      const digest = sha256Digest(data);
      for (const [offset, length] of [[0, 10], [65_530, 20], [data.length - 3, 3], [data.length - 3, 50]] as const) {
        expect((await store.getBlobRange(digest, offset, length)).equals(data.subarray(offset, offset + length))).toBe(true);
      }
    });

    it('refuses bytes that do not match the digest, and reports missing content as NOT_FOUND', async () => {
      const bytes = Buffer.from('actual');
      const wrong = sha256Digest(Buffer.from('claimed'));
      await expect(store.putBlob(wrong, bytes.length, async function* () { yield bytes; })).rejects.toMatchObject({ code: 'CORRUPT' });
      expect(await store.blobExists(wrong)).toBeUndefined();
      await expect(store.getBlob(wrong)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.getManifest('no-such-tag')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.resolve(wrong)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('stores manifests by tag, resolves and reads them by tag and digest, and moves tags', async () => {
      const a = await makeTestImage(`conformance-a-${name}`);
      const b = await makeTestImage(`conformance-b-${name}`);
      const da = await pushTestImage(store, a, 'v1');
      expect(da).toEqual({ mediaType: OCI_MANIFEST, digest: a.manifest.digest, size: a.manifestBytes.length });
      expect(await store.resolve('v1')).toMatchObject(da);
      expect((await store.getManifest('v1')).bytes.equals(a.manifestBytes)).toBe(true);
      expect((await store.getManifest(da.digest)).bytes.equals(a.manifestBytes)).toBe(true);
      await pushTestImage(store, b, 'v1');
      expect((await store.resolve('v1')).digest).toBe(b.manifest.digest);
      expect((await store.getManifest(da.digest)).bytes.equals(a.manifestBytes)).toBe(true);
    });

    it('attaches and lists referrers, filtered by artifact type', async () => {
      const image = await makeTestImage(`conformance-ref-${name}`);
      const subject = await pushTestImage(store, image, 'ref');
      expect(await store.listReferrers(subject.digest)).toEqual([]);
      const sig = await pushArtifact(store, subject, 'application/vnd.example.sig', 'one');
      const idx = await pushArtifact(store, subject, 'application/vnd.example.idx', 'two');
      const all = await store.listReferrers(subject.digest);
      expect(all.map((d) => d.digest).sort()).toEqual([sig.digest, idx.digest].sort());
      expect(all.find((d) => d.digest === idx.digest)).toMatchObject({ mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.idx', annotations: { 'org.turbo-oci.test.note': 'two' } });
      expect((await store.listReferrers(subject.digest, 'application/vnd.example.sig')).map((d) => d.digest)).toEqual([sig.digest]);
    });
  });
}
