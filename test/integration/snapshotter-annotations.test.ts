// Discovery step 2 (turbo.ociv1 layer annotations as Prepare labels) against a real registry and a real `turbo-index build` index; nothing is mounted.
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeIndexArtifact, encodeIndexArtifact } from '../../src/format/artifact/index-artifact.js';
import { annotateManifestLayers, formatRepositoryName, layerAnnotations, type RepositoryName } from '../../src/format/artifact/layer-annotations.js';
import { sha256Digest } from '../../src/format/oci/digest.js';
import { OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { parseReference } from '../../src/format/oci/reference.js';
import type { ImageStore } from '../../src/registry/image-store.js';
import { openImageStore } from '../../src/registry/open-store.js';
import { ANNOTATION_FAILURE_TTL_MS } from '../../src/defaults.js';
import { discoverByAnnotations, resolveAnnotatedImage } from '../../src/snapshotter/annotation-discovery.js';
import { resolveLazyImage, type ResolvedLazyImage } from '../../src/snapshotter/lazy-image-resolver.js';
import { CRI_LABELS, lazyLabels, TARGET_SNAPSHOT_LABEL, TURBO_LAYER_LABELS, type LazyLayer } from '../../src/snapshotter/lazy-layer.js';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { makeLayeredImage, type LayeredImage } from '../helpers/layered-image.js';
import { pushTestImage } from '../helpers/oci-image.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { turboIndex } from '../helpers/turbo-index-cli.js';

const skip = missingNeeds({ commands: ['docker-registry'] });

/** A loopback port with nothing listening (bound once, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(skip)('turbo.ociv1 layer annotations on Prepare', () => {
  let dir: string;
  let registry: RegistryServer | undefined;
  let proxy: FaultProxy | undefined;
  let store: ImageStore | undefined;
  let image: LayeredImage;
  /** The index found the other way (referrers API), via the registry and via the proxy. */
  let direct: ResolvedLazyImage;
  let viaProxy: ResolvedLazyImage;
  let repo: string;
  let proxyRepo: string;
  let roots = 0;

  /** A snapshotter on a fresh root (empty catalog). */
  const fresh = () => new OverlaySnapshotter(path.join(dir, `root-${++roots}`));

  async function resolveVia(host: string): Promise<ResolvedLazyImage> {
    const ref = parseReference(`${host}/test/ann:v1`);
    const s = await openImageStore(ref);
    try {
      return await resolveLazyImage(s, ref, image.manifest.digest);
    } finally {
      await s.close();
    }
  }

  beforeAll(async () => {
    dir = makeTempDir('turbo-oci-snapann-');
    registry = await startRegistry();
    image = await makeLayeredImage('annotations', 2);
    repo = `${registry.host}/test/ann`;
    store = await openImageStore(parseReference(`${repo}:v1`));
    await pushTestImage(store, image, 'v1');
    const built = await turboIndex(['build', `${repo}:v1`, '--no-cache']);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    proxy = await startFaultProxy(registry.host);
    proxyRepo = `${proxy.host}/test/ann`;
    direct = await resolveVia(registry.host);
    viaProxy = await resolveVia(proxy.host);
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    await proxy?.stop();
    await registry?.stop();
  });

  /** Prepares extraction of layer 0 and expects ordinary unpack: an active snapshot, no lazy target, nothing catalogued. */
  async function expectUnpack(labels: Record<string, string>, chain = image.chainIds[0]!): Promise<void> {
    const sn = fresh();
    try {
      const key = `extract-1 ${chain}`;
      const mounts = await sn.prepare(key, '', { [TARGET_SNAPSHOT_LABEL]: chain, ...labels });
      expect(mounts.length).toBe(1);
      const info = await sn.stat(key);
      expect(info.kind).toBe('ACTIVE');
      expect(info.labels).toEqual({ [TARGET_SNAPSHOT_LABEL]: chain, ...labels });
      await expect(sn.stat(chain)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(sn.catalog.lookup(chain)).toBeUndefined();
    } finally {
      await sn.close();
    }
  }

  /** Prepares layer `k` (on its lazily created parent chain) and expects a lazy committed snapshot `expected`. */
  async function expectLazy(sn: OverlaySnapshotter, k: number, labels: Record<string, string>, expected: LazyLayer): Promise<void> {
    const chain = image.chainIds[k]!;
    const parent = k === 0 ? '' : image.chainIds[k - 1]!;
    // containerd's metadata layer names the target `<namespace>/<txid>/<chain id>`.
    const target = `default/${k + 7}/${chain}`;
    await expect(sn.prepare(`default/${k + 3}/extract-${k} ${chain}`, parent, { [TARGET_SNAPSHOT_LABEL]: target, ...labels })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    const info = await sn.stat(target);
    expect(info.kind).toBe('COMMITTED');
    expect(info.labels).toEqual({ [TARGET_SNAPSHOT_LABEL]: target, ...labels, ...lazyLabels(expected) });
    // No active extraction snapshot was left behind.
    expect((await sn.walk(['kind==active'])).length).toBe(0);
  }

  it('a fresh snapshotter serves both layers lazily from the annotated index (fetched by digest), then answers from its catalog', async () => {
    expect(direct.entries.map((e) => e.chainId)).toEqual(image.chainIds);
    const labels = layerAnnotations(viaProxy.indexDigest, { registry: proxy!.host, repository: 'test/ann' });
    expect(labels).toEqual({ [TURBO_LAYER_LABELS.index]: viaProxy.indexDigest, [TURBO_LAYER_LABELS.repository]: proxyRepo });
    const sn = fresh();
    try {
      // containerd sends each layer's descriptor annotations next to the target label (and the chain's target names differ).
      proxy!.reset();
      const t0 = `default/7/${image.chainIds[0]}`;
      await expectLazy(sn, 0, labels, viaProxy.entries[0]!.layer);
      expect(viaProxy.entries[0]!.layer).toEqual({ imageRef: `${proxyRepo}@${image.manifest.digest}`, indexDigest: viaProxy.indexDigest, layerIndex: 0, layerCount: 2 });
      expect(proxy!.log.some((r) => r.method === 'GET' && r.path === `/v2/test/ann/manifests/${viaProxy.indexDigest}`)).toBe(true);
      // No referrers lookup: the index came from the label.
      expect(proxy!.log.filter((r) => r.path.includes('/referrers/'))).toEqual([]);
      for (const e of viaProxy.entries) expect(sn.catalog.lookup(e.chainId)).toEqual(e.layer);
      // The next layer is answered from the catalog entry of the same index and repository: no request at all.
      proxy!.reset();
      const chain1 = image.chainIds[1]!;
      await expect(sn.prepare(`default/9/extract-1 ${chain1}`, t0, { [TARGET_SNAPSHOT_LABEL]: chain1, ...labels })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect((await sn.stat(chain1)).labels).toEqual({ [TARGET_SNAPSHOT_LABEL]: chain1, ...labels, ...lazyLabels(viaProxy.entries[1]!.layer) });
      expect((await sn.stat(chain1)).parent).toBe(t0);
      expect(proxy!.log).toEqual([]);
    } finally {
      await sn.close();
    }
    // Layer 1 on another fresh root whose layer 0 was unpacked as usual: found by its chain ID at position 1 of 2.
    const sn2 = fresh();
    try {
      await sn2.prepare('base', '');
      await sn2.commit(image.chainIds[0]!, 'base');
      await expectLazy(sn2, 1, labels, viaProxy.entries[1]!.layer);
      expect(viaProxy.entries[1]!.layer).toMatchObject({ layerIndex: 1, layerCount: 2 });
    } finally {
      await sn2.close();
    }
  }, 60_000);

  it('without the repository key, the repository of the CRI image-ref label is used; with neither, the step does not apply', async () => {
    const sn = fresh();
    try {
      // No cri.manifest-digest: the CRI step itself cannot apply, so the hit is the annotation step's.
      const labels = { [TURBO_LAYER_LABELS.index]: direct.indexDigest, [CRI_LABELS.imageRef]: `${repo}:some-other-tag` };
      await expectLazy(sn, 0, labels, direct.entries[0]!.layer);
      expect(direct.entries[0]!.layer.imageRef).toBe(`${repo}@${image.manifest.digest}`);
    } finally {
      await sn.close();
    }
    await expectUnpack({ [TURBO_LAYER_LABELS.index]: direct.indexDigest });
  }, 60_000);

  it('wrong, foreign or corrupt indexes, chain IDs outside the index, malformed values and an unreachable registry fall through to ordinary unpack', async () => {
    const good = layerAnnotations(direct.indexDigest, { registry: registry!.host, repository: 'test/ann' });
    // The index exists and is good, but the requested chain ID is not one of its layers.
    await expectUnpack(good, sha256Digest(Buffer.from('another layer stack')));
    // A digest that is no manifest in the repository.
    await expectUnpack({ ...good, [TURBO_LAYER_LABELS.index]: sha256Digest(Buffer.from('no such index')) });
    // The digest of a manifest that is not an index artifact (the image itself).
    await expectUnpack({ ...good, [TURBO_LAYER_LABELS.index]: image.manifest.digest });
    // The right index, but looked for in a repository that does not hold it.
    await expectUnpack({ ...good, [TURBO_LAYER_LABELS.repository]: `${registry!.host}/test/elsewhere` });
    // A well-formed artifact whose chain IDs disagree with the image config (digest-valid, so only the check catches it).
    const artifact = decodeIndexArtifact((await store!.getManifest(direct.indexDigest)).bytes);
    const forged = encodeIndexArtifact({ ...artifact, layers: artifact.layers.map((l, i) => (i === 1 ? { ...l, chainId: sha256Digest(Buffer.from('forged')) } : l)) });
    const forgedDesc = await store!.putManifest(forged, OCI_MANIFEST);
    expect(forgedDesc.digest).toBe(sha256Digest(forged));
    await expectUnpack({ ...good, [TURBO_LAYER_LABELS.index]: forgedDesc.digest });
    // Malformed values.
    for (const index of ['sha256:1234', 'md5:d41d8cd98f00b204e9800998ecf8427e', direct.indexDigest.toUpperCase(), '']) {
      await expectUnpack({ ...good, [TURBO_LAYER_LABELS.index]: index });
    }
    for (const repository of [`${repo}:v1`, `${repo}@${image.manifest.digest}`, 'Not A/Repository!', 'oci:/tmp/layout', '']) {
      await expectUnpack({ ...good, [TURBO_LAYER_LABELS.repository]: repository });
    }
    // Nothing listens on the registry port (connection refused after the client's retries).
    await expectUnpack({ ...good, [TURBO_LAYER_LABELS.repository]: `127.0.0.1:${await closedPort()}/test/ann` });
  }, 120_000);

  it('annotations come before the CRI labels: when both name an index, the annotated one wins; a malformed annotation falls through to the CRI step', async () => {
    const cri = { [CRI_LABELS.imageRef]: `${proxyRepo}:v1`, [CRI_LABELS.manifestDigest]: image.manifest.digest, [CRI_LABELS.layerDigest]: image.layers[0]!.digest };
    const annotated = layerAnnotations(direct.indexDigest, { registry: registry!.host, repository: 'test/ann' });
    expect(direct.entries[0]!.layer.imageRef).not.toBe(viaProxy.entries[0]!.layer.imageRef);
    let sn = fresh();
    try {
      await expectLazy(sn, 0, { ...cri, ...annotated }, direct.entries[0]!.layer);
    } finally {
      await sn.close();
    }
    sn = fresh();
    try {
      await expectLazy(sn, 0, { ...cri, ...annotated, [TURBO_LAYER_LABELS.index]: 'sha256:bad' }, viaProxy.entries[0]!.layer);
    } finally {
      await sn.close();
    }
  }, 60_000);

  it('resolveAnnotatedImage (turbo-index pull): consistent annotations resolve to the original image, partial ones are ignored, other layers are CORRUPT', async () => {
    const ref = { registry: registry!.host, repository: 'test/ann' };
    const opened: string[] = [];
    const open = (name: RepositoryName) => (opened.push(formatRepositoryName(name)), openImageStore({ kind: 'registry', ...name }));
    const push = async (bytes: Buffer, tag: string) => (await store!.putManifest(bytes, OCI_MANIFEST, tag)).digest;
    // Not annotated: undefined (pull then uses the referrers API).
    expect(await resolveAnnotatedImage(store!, ref, 'v1', open)).toBeUndefined();
    // Every layer annotated, without the repository key: the reference's repository, no other store opened.
    const copyDigest = await push(annotateManifestLayers(image.manifestBytes, { [TURBO_LAYER_LABELS.index]: direct.indexDigest }), 'copy');
    expect(await resolveAnnotatedImage(store!, ref, 'copy', open)).toEqual({ ...direct, manifestDigest: copyDigest });
    expect(opened).toEqual([]);
    // Naming the proxy's host: that repository is opened (and closed), and the image served is the original there.
    const viaProxyDigest = await push(annotateManifestLayers(image.manifestBytes, layerAnnotations(direct.indexDigest, { registry: proxy!.host, repository: 'test/ann' })), 'copy-proxy');
    expect(await resolveAnnotatedImage(store!, ref, 'copy-proxy', open)).toEqual({ ...viaProxy, manifestDigest: viaProxyDigest });
    expect(opened).toEqual([proxyRepo]);
    // Only some layers annotated, or layers disagreeing: not an annotated image.
    const manifest = JSON.parse(image.manifestBytes.toString('utf8')) as { layers: { annotations?: Record<string, string> }[] };
    const partial = { ...manifest, layers: manifest.layers.map((l, i) => (i === 0 ? { ...l, annotations: { [TURBO_LAYER_LABELS.index]: direct.indexDigest } } : l)) };
    await push(Buffer.from(JSON.stringify(partial)), 'partial');
    expect(await resolveAnnotatedImage(store!, ref, 'partial', open)).toBeUndefined();
    const mixed = { ...manifest, layers: manifest.layers.map((l, i) => ({ ...l, annotations: { [TURBO_LAYER_LABELS.index]: i === 0 ? direct.indexDigest : sha256Digest(Buffer.from('x')) } })) };
    await push(Buffer.from(JSON.stringify(mixed)), 'mixed');
    expect(await resolveAnnotatedImage(store!, ref, 'mixed', open)).toBeUndefined();
    // Another image's layers annotated with this index: CORRUPT (containerd would get chain IDs its config does not have).
    const other = await makeLayeredImage('annotations-other', 2);
    await pushTestImage(store!, other, 'other');
    await push(annotateManifestLayers(other.manifestBytes, { [TURBO_LAYER_LABELS.index]: direct.indexDigest }), 'other-copy');
    await expect(resolveAnnotatedImage(store!, ref, 'other-copy', open)).rejects.toMatchObject({ code: 'CORRUPT' });
    // A named index that does not exist: the resolution's NOT_FOUND.
    await push(annotateManifestLayers(image.manifestBytes, { [TURBO_LAYER_LABELS.index]: sha256Digest(Buffer.from('none')) }), 'dangling');
    await expect(resolveAnnotatedImage(store!, ref, 'dangling', open)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  }, 60_000);

  it('an index that cannot be loaded is not asked for again by the next layers (until the failure TTL has passed)', async () => {
    const labels = layerAnnotations(sha256Digest(Buffer.from('missing index')), { registry: proxy!.host, repository: 'test/ann' });
    const sn = fresh();
    try {
      proxy!.reset();
      const chain0 = image.chainIds[0]!;
      expect((await sn.prepare(`extract-0 ${chain0}`, '', { [TARGET_SNAPSHOT_LABEL]: chain0, ...labels })).length).toBe(1);
      expect(proxy!.log.length).toBeGreaterThan(0);
      await sn.commit(chain0, `extract-0 ${chain0}`);
      // The next layer of the same image: unpacked as usual without a registry request.
      proxy!.reset();
      const chain1 = image.chainIds[1]!;
      expect((await sn.prepare(`extract-1 ${chain1}`, chain0, { [TARGET_SNAPSHOT_LABEL]: chain1, ...labels })).length).toBe(1);
      expect((await sn.stat(`extract-1 ${chain1}`)).kind).toBe('ACTIVE');
      expect(proxy!.log).toEqual([]);
      // After the TTL the index is asked for again (and, still missing, not found).
      expect(await discoverByAnnotations(chain1, labels, sn.catalog, Date.now() + ANNOTATION_FAILURE_TTL_MS + 1)).toBeUndefined();
      expect(proxy!.log.some((r) => r.path.includes('/manifests/'))).toBe(true);
    } finally {
      await sn.close();
    }
  }, 60_000);
});
