// Referrers: the tag-schema fallback on distribution 2.8 (read, write, concurrent writers) and the 1.1 API on a tiny loopback server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sha256Digest } from '../../src/format/oci/digest.js';
import { parseManifest, type Descriptor, type ImageIndex } from '../../src/format/oci/manifest.js';
import { OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { referrersTag } from '../../src/registry/referrers.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { makeTestImage, pushArtifact, pushTestImage } from '../helpers/oci-image.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';

const OPTIONS = { retry: { baseDelayMs: 5, maxDelayMs: 50 }, repository: { referrersSettleMs: 100 } };
const SIGNATURE = 'application/vnd.example.signature.v1';
const INDEX = 'application/vnd.example.turbo-index.v1';

describe.skipIf(missingNeeds({ commands: ['docker-registry'] }))('referrers tag-schema fallback on distribution 2.8', () => {
  let registry: RegistryServer;
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient(OPTIONS);
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('writes the sha256-<hex> index and reads it back, filtered by artifactType', async () => {
    const repo = client.repository(registry.host, 'ref/app');
    const image = await makeTestImage('ref-1');
    const subject = await pushTestImage(repo, image, 'v1');
    expect(await repo.listReferrers(subject.digest)).toEqual([]);
    expect(repo.referrers.api).toBe(false);

    const sig = await pushArtifact(repo, subject, SIGNATURE, 'sig-1');
    const idx = await pushArtifact(repo, subject, INDEX, 'index-1');
    const all = await repo.listReferrers(subject.digest);
    expect(all.map((d) => d.digest).sort()).toEqual([sig.digest, idx.digest].sort());
    expect(all.find((d) => d.digest === sig.digest)).toMatchObject({ artifactType: SIGNATURE, mediaType: OCI_MANIFEST, annotations: { 'org.turbo-oci.test.note': 'sig-1' } });
    expect((await repo.listReferrers(subject.digest, INDEX)).map((d) => d.digest)).toEqual([idx.digest]);

    // The fallback index is a plain tag another client (skopeo, oras) can read.
    const fallback = await repo.getManifest(referrersTag(subject.digest));
    const parsed = parseManifest(fallback.bytes).manifest as ImageIndex;
    expect(parsed.manifests.map((d) => d.digest).sort()).toEqual([sig.digest, idx.digest].sort());
    // Attaching the same referrer again does not duplicate it.
    await repo.attachReferrer((await repo.getManifest(sig.digest)).bytes, OCI_MANIFEST);
    expect((await repo.listReferrers(subject.digest)).length).toBe(2);
  });

  it('two (and four) concurrent writers never lose each other\'s entries', async () => {
    const image = await makeTestImage('ref-concurrent');
    const setup = client.repository(registry.host, 'ref/race');
    const subject = await pushTestImage(setup, image, 'v1');
    for (const writers of [2, 4]) {
      const clients = Array.from({ length: writers }, () => new RegistryClient(OPTIONS));
      try {
        const pushed = await Promise.all(clients.map((c, i) => pushArtifact(c.repository(registry.host, 'ref/race'), subject, SIGNATURE, `w${writers}-${i}`)));
        const listed = (await setup.listReferrers(subject.digest)).map((d) => d.digest);
        for (const p of pushed) expect(listed).toContain(p.digest);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    }
    expect((await setup.listReferrers(subject.digest)).length).toBe(6);
  });
});

describe('referrers API on a loopback server implementing distribution-spec 1.1 referrers', () => {
  let filtering: ReferrersServer;
  let ignoring: ReferrersServer;
  let client: RegistryClient;
  const subject = sha256Digest(Buffer.from('subject'));
  const seeded: Descriptor[] = Array.from({ length: 5 }, (_, i) => ({
    mediaType: OCI_MANIFEST,
    digest: sha256Digest(Buffer.from(`referrer-${i}`)),
    size: 100 + i,
    artifactType: i % 2 === 0 ? SIGNATURE : INDEX,
  }));

  beforeAll(async () => {
    [filtering, ignoring] = await Promise.all([startReferrersServer({ pageSize: 2 }), startReferrersServer({ pageSize: 2, applyFilter: false })]);
    filtering.referrers.set(subject, seeded);
    ignoring.referrers.set(subject, seeded);
    client = new RegistryClient(OPTIONS);
  });
  afterAll(async () => {
    await client?.close();
    await filtering?.stop();
    await ignoring?.stop();
  });

  it('follows Link pagination', async () => {
    const repo = client.repository(filtering.host, 'api/app');
    expect(await repo.listReferrers(subject)).toEqual(seeded);
    expect(repo.referrers.api).toBe(true);
    expect(filtering.requests.filter((r) => r.startsWith('GET /v2/api/app/referrers/')).length).toBe(3);
  });

  it('uses the server filter when OCI-Filters-Applied says so, and filters itself when the server ignored it', async () => {
    const want = seeded.filter((d) => d.artifactType === INDEX);
    expect(await client.repository(filtering.host, 'api/app').listReferrers(subject, INDEX)).toEqual(want);
    expect(filtering.requests.some((r) => r.includes(`artifactType=${encodeURIComponent(INDEX)}`))).toBe(true);
    expect(await client.repository(ignoring.host, 'api/app').listReferrers(subject, INDEX)).toEqual(want);
  });

  it('does not write a fallback tag when the registry answers OCI-Subject', async () => {
    const repo = client.repository(filtering.host, 'api/push');
    const subjectDesc: Descriptor = { mediaType: OCI_MANIFEST, digest: sha256Digest(Buffer.from('push-subject')), size: 10 };
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: INDEX,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(Buffer.from('{}')), size: 2 },
      layers: [],
      subject: subjectDesc,
    };
    const pushed = await repo.attachReferrer(Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST);
    expect((await repo.listReferrers(subjectDesc.digest)).map((d) => d.digest)).toEqual([pushed.digest]);
    expect(filtering.requests.filter((r) => r.startsWith('PUT ')).length).toBe(1);
  });
});
