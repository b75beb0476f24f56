// `turbo-index annotate` end to end on a real registry: the annotated copy keeps every layer and field, its layers name the index, and the snapshotter serves it lazily from the labels containerd would forward.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inheritedLabels, layerAnnotations } from '../../src/format/artifact/layer-annotations.js';
import { sha256Digest } from '../../src/format/oci/digest.js';
import { encodeManifest, parseManifest, type ImageIndex, type ImageManifest } from '../../src/format/oci/manifest.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { parseReference } from '../../src/format/oci/reference.js';
import type { ImageStore } from '../../src/registry/image-store.js';
import { openImageStore } from '../../src/registry/open-store.js';
import { resolveLazyImage, type ResolvedLazyImage } from '../../src/snapshotter/lazy-image-resolver.js';
import { CRI_LABELS, lazyLabels, TARGET_SNAPSHOT_LABEL } from '../../src/snapshotter/lazy-layer.js';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { startSnapshotService } from '../../src/snapshotter/service.js';
import { EXIT_STATUS } from '../../src/cli/exit-codes.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { startContainerd } from '../helpers/containerd.js';
import { makeLayeredImage, type LayeredImage } from '../helpers/layered-image.js';
import { makeTestImage, pushTestImage } from '../helpers/oci-image.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { turboIndex } from '../helpers/turbo-index-cli.js';

const skip = missingNeeds({ commands: ['docker-registry'] });
const skipContainerd = missingNeeds({ root: true, commands: ['containerd', 'ctr'] });

/** The manifest JSON with the layers' annotations removed (what must be unchanged by annotate). */
function withoutLayerAnnotations(m: ImageManifest): unknown {
  return { ...m, layers: m.layers.map(({ annotations: _a, ...rest }) => rest) };
}

describe.skipIf(skip)('turbo-index annotate', () => {
  let dir: string;
  let registry: RegistryServer | undefined;
  let store: ImageStore | undefined;
  let image: LayeredImage;
  let resolved: ResolvedLazyImage;
  let repo: string;

  beforeAll(async () => {
    dir = makeTempDir('turbo-oci-annotate-');
    registry = await startRegistry();
    repo = `${registry.host}/test/annotate`;
    store = await openImageStore(parseReference(`${repo}:v1`));
    image = await makeLayeredImage('annotate-cli', 3, 4096);
    await pushTestImage(store, image, 'v1');
    const built = await turboIndex(['build', `${repo}:v1`, '--no-cache']);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    resolved = await resolveLazyImage(store, parseReference(`${repo}:v1`), image.manifest.digest);
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    await registry?.stop();
  });

  it('pushes a copy whose layers carry the index digest and repository, with everything else (and every blob) unchanged', async () => {
    const run = await turboIndex(['annotate', `${repo}:v1`, '--to', `${repo}:lazy`]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const copy = await store!.getManifest('lazy');
    expect(run.stdout).toBe(`${repo}:lazy@${copy.descriptor.digest}\n`);
    expect(copy.descriptor.digest).not.toBe(image.manifest.digest);
    const original = parseManifest(image.manifestBytes).manifest as ImageManifest;
    const annotated = parseManifest(copy.bytes, copy.descriptor.mediaType).manifest as ImageManifest;
    expect(copy.descriptor.mediaType).toBe(OCI_MANIFEST);
    expect(withoutLayerAnnotations(annotated)).toEqual(withoutLayerAnnotations(original));
    const expected = layerAnnotations(resolved.indexDigest, { registry: registry!.host, repository: 'test/annotate' });
    for (const layer of annotated.layers) expect(layer.annotations).toEqual(expected);
    // The original is untouched and still the index's subject.
    expect((await store!.getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
    for (const [digest, bytes] of image.blobs) expect(await store!.blobExists(digest)).toBe(bytes.length);
  }, 60_000);

  it('a fresh snapshotter serves every layer of the annotated copy lazily from what containerd forwards; CRI labels alone cannot (no index on the copy)', async () => {
    const copy = await store!.getManifest('lazy');
    const annotated = parseManifest(copy.bytes, copy.descriptor.mediaType).manifest as ImageManifest;
    const cri = (k: number) => ({ [CRI_LABELS.imageRef]: `${repo}:lazy`, [CRI_LABELS.manifestDigest]: copy.descriptor.digest, [CRI_LABELS.layerDigest]: annotated.layers[k]!.digest });
    const plain = new OverlaySnapshotter(path.join(dir, 'plain'));
    try {
      const chain = image.chainIds[0]!;
      await plain.prepare(`extract-0 ${chain}`, '', { [TARGET_SNAPSHOT_LABEL]: chain, ...cri(0) });
      expect((await plain.stat(`extract-0 ${chain}`)).kind).toBe('ACTIVE');
    } finally {
      await plain.close();
    }
    const sn = new OverlaySnapshotter(path.join(dir, 'lazy'));
    try {
      let parent = '';
      for (let k = 0; k < annotated.layers.length; k++) {
        const chain = image.chainIds[k]!;
        // As containerd v1.6's unpacker: the layer's containerd.io/snapshot/* annotations, the CRI labels, the target.
        const labels = { ...inheritedLabels(annotated.layers[k]!.annotations), ...cri(k), [TARGET_SNAPSHOT_LABEL]: chain };
        await expect(sn.prepare(`extract-${k} ${chain}`, parent, labels)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
        const info = await sn.stat(chain);
        expect(info.parent).toBe(parent);
        // Served from the ORIGINAL image (by digest), at position k of 3.
        expect(info.labels).toEqual({ ...labels, ...lazyLabels(resolved.entries[k]!.layer) });
        expect(resolved.entries[k]!.layer).toEqual({ imageRef: `${repo}@${image.manifest.digest}`, indexDigest: resolved.indexDigest, layerIndex: k, layerCount: 3 });
        parent = chain;
      }
      expect((await sn.walk(['kind==active'])).length).toBe(0);
    } finally {
      await sn.close();
    }
  }, 60_000);

  it('an image index: the indexed platform manifest is replaced by its annotated copy, the other entries stay', async () => {
    const arm = await makeTestImage('annotate-arm', 2048, { os: 'linux', architecture: 'arm64' });
    await pushTestImage(store!, arm);
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...image.manifest, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
      ],
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    };
    const indexBytes = encodeManifest(index);
    await store!.putManifest(indexBytes, OCI_INDEX, 'multi');
    // Only amd64 has an index (built above for the same manifest).
    const run = await turboIndex(['annotate', `${repo}:multi`, '--to', `${repo}:multi-lazy`, '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const top = await store!.getManifest('multi-lazy');
    const out = JSON.parse(run.stdout) as { ref: string; digest: string; images: { source: string; annotated: string; index: string; platform?: unknown }[] };
    expect(out.digest).toBe(top.descriptor.digest);
    expect(out.ref).toBe(`${repo}:multi-lazy@${top.descriptor.digest}`);
    const amdCopy = await store!.getManifest(out.images[0]!.annotated);
    expect(out.images).toEqual([{ source: image.manifest.digest, annotated: sha256Digest(amdCopy.bytes), index: resolved.indexDigest, platform: { os: 'linux', architecture: 'amd64' } }]);
    const copied = parseManifest(top.bytes, top.descriptor.mediaType).manifest as ImageIndex;
    expect(top.descriptor.mediaType).toBe(OCI_INDEX);
    expect(copied).toEqual({ ...index, manifests: [{ ...index.manifests[0]!, digest: amdCopy.descriptor.digest, size: amdCopy.bytes.length }, index.manifests[1]] });
    const amdLayers = (parseManifest(amdCopy.bytes).manifest as ImageManifest).layers;
    for (const l of amdLayers) expect(l.annotations).toEqual(layerAnnotations(resolved.indexDigest, { registry: registry!.host, repository: 'test/annotate' }));
    // Same annotations as the single-manifest copy: the same bytes, so the same digest.
    expect(amdCopy.descriptor.digest).toBe((await store!.resolve('lazy')).digest);
  }, 60_000);

  it('refuses another repository, digests, layouts and the source tag (INVALID_ARGUMENT) and images without an index (NOT_FOUND); nothing is pushed', async () => {
    for (const to of [`${registry!.host}/test/other:lazy`, `${repo}@${image.manifest.digest}`, repo, 'oci:/tmp/nowhere:lazy', `${repo}:v1`]) {
      const run = await turboIndex(['annotate', `${repo}:v1`, '--to', to]);
      expect(run.status, to).toBe(EXIT_STATUS.INVALID_ARGUMENT);
      expect(run.stderr).toMatch(/turbo-index:/);
    }
    expect((await store!.getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
    const bare = await makeLayeredImage('annotate-bare', 1, 1024);
    await pushTestImage(store!, bare, 'bare');
    const run = await turboIndex(['annotate', `${repo}:bare`, '--to', `${repo}:bare-lazy`]);
    expect(run.status).toBe(EXIT_STATUS.NOT_FOUND);
    expect(run.stderr).toContain('turbo-index build');
    await expect(store!.getManifest('bare-lazy')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  }, 60_000);

  it.skipIf(skipContainerd)('turbo-index pull of the annotated copy: containerd records the copy, the Prepares carry the forwarded annotations, every layer is lazy', async () => {
    const annotateRun = await turboIndex(['annotate', `${repo}:v1`, '--to', `${repo}:pull-lazy`]);
    expect(annotateRun.status).toBe(0);
    const copy = await store!.getManifest('pull-lazy');
    const root = path.join(dir, 'pull-root');
    const sn = new OverlaySnapshotter(root);
    const service = await startSnapshotService(sn, path.join(dir, 'turbo.sock'));
    try {
      const containerd = await startContainerd({ snapshotterSocket: service.socketPath, plainHttpRegistries: [registry!.host] });
      try {
        const pulled = await turboIndex(['pull', `${repo}:pull-lazy`, '--containerd-address', containerd.address, '--snapshotter-root', root]);
        expect(pulled.stderr).toBe('');
        expect(pulled.status).toBe(0);
        expect(pulled.stdout).toBe(`pulled ${repo}:pull-lazy lazily (image ${copy.descriptor.digest}, index ${resolved.indexDigest}, 3 layers)\n`);
        const listed = (await containerd.ctr(['images', 'ls'])).split('\n').find((l) => l.startsWith(`${repo}:pull-lazy `));
        expect(listed).toContain(copy.descriptor.digest);
        const infos = await sn.walk();
        expect(infos.every((i) => i.kind === 'COMMITTED')).toBe(true);
        for (let k = 0; k < 3; k++) {
          const info = infos.find((i) => i.name.endsWith(image.chainIds[k]!));
          expect(info, `layer ${k}`).toBeDefined();
          // Forwarded from the layer descriptor, as containerd's unpacker does; served from the original image.
          expect(info!.labels).toMatchObject({ ...layerAnnotations(resolved.indexDigest, { registry: registry!.host, repository: 'test/annotate' }), ...lazyLabels(resolved.entries[k]!.layer) });
        }
      } finally {
        await containerd.stop();
      }
    } finally {
      await service.close(1000);
      await sn.close();
    }
  }, 120_000);
});
