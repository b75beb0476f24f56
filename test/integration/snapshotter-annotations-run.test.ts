// An annotated copy of the indexed Debian base layer (root): served lazily from the forwarded annotations on an empty catalog, and run by `ctr run` after `turbo-index pull`; every byte read is the original's.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inheritedLabels, LAYER_ANNOTATION } from '../../src/format/artifact/layer-annotations.js';
import { parseManifest, type ImageManifest } from '../../src/format/oci/manifest.js';
import { parseReference } from '../../src/format/oci/reference.js';
import { openImageStore } from '../../src/registry/open-store.js';
import { TARGET_SNAPSHOT_LABEL } from '../../src/snapshotter/lazy-layer.js';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { startSnapshotService } from '../../src/snapshotter/service.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { mountsUnder, startContainerd } from '../helpers/containerd.js';
import { layerBytesFetched, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { debianImage, pushToRegistry, type DebianImage } from '../helpers/images.js';
import { processesMentioning } from '../helpers/processes.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { withMounts } from '../helpers/snapshot-mounts.js';
import { readInChild, UNCACHED_SERVE_NBD } from '../helpers/lazy-serving.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { turboIndex } from '../helpers/turbo-index-cli.js';

const skip = missingNeeds({ root: true, commands: ['docker-registry', 'skopeo', 'umoci', 'debootstrap', 'nbdfuse', 'losetup'] });
const skipContainerd = skip || missingNeeds({ commands: ['containerd', 'ctr', 'runc'] });
/** serve-nbd as the built CLI without a disk cache, so every byte read is fetched (and counted). */
const snapshotterOptions = { serveNbd: UNCACHED_SERVE_NBD };

describe.skipIf(skip)('an annotated copy of an indexed image, served lazily', () => {
  let dir: string;
  let registry: RegistryServer | undefined;
  let proxy: FaultProxy | undefined;
  let img: DebianImage;
  let copyRef: string;
  let copyDigest: string;
  let originalDigest: string;
  let copy: ImageManifest;
  let expected: Buffer;

  beforeAll(async () => {
    img = await debianImage();
    dir = makeTempDir('turbo-oci-annrun-');
    registry = await startRegistry();
    const ref = await pushToRegistry({ ref: img.prefixRef(1) }, registry.url, 'test/annrun');
    const built = await turboIndex(['build', ref, '--no-cache']);
    expect(built.status).toBe(0);
    // The annotations name the proxy's host, so the lazy reads go through it and are counted.
    proxy = await startFaultProxy(registry.host);
    const proxyRef = ref.replace(registry.host, proxy.host);
    copyRef = proxyRef.replace(/:latest$/, ':annotated');
    const annotated = await turboIndex(['annotate', proxyRef, '--to', copyRef]);
    expect(annotated.stderr).toBe('');
    expect(annotated.status).toBe(0);
    const store = await openImageStore(parseReference(copyRef));
    try {
      const m = await store.getManifest('annotated');
      copyDigest = m.descriptor.digest;
      copy = parseManifest(m.bytes, m.descriptor.mediaType).manifest as ImageManifest;
      originalDigest = (await store.resolve('latest')).digest;
    } finally {
      await store.close();
    }
    expect(copyDigest).not.toBe(originalDigest);
    expect(copy.layers[0]!.annotations?.[LAYER_ANNOTATION.repository]).toBe(`${proxy.host}/test/annrun`);
    expected = execFileSync('tar', ['-xOf', img.layers[0]!.uncompressedTarPath, 'usr/lib/os-release']);
    expect(expected.toString()).toContain('ID=debian');
  }, 600_000);

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    if (dir) {
      expect(mountsUnder(dir)).toEqual([]);
      expect(processesMentioning('serve-nbd', dir)).toEqual([]);
    }
  });

  it('empty catalog: Prepare with the forwarded annotations is lazy, and a view reads the original bytes, fetching a fraction of the layer', async () => {
    const sn = new OverlaySnapshotter(path.join(dir, 'root-view'), snapshotterOptions);
    try {
      const chain = img.layers[0]!.diffId;
      proxy!.reset();
      await expect(sn.prepare(`extract-1 ${chain}`, '', { ...inheritedLabels(copy.layers[0]!.annotations), [TARGET_SNAPSHOT_LABEL]: chain })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect((await sn.stat(chain)).labels['dev.turbo-oci/image-ref']).toBe(`${proxy!.host}/test/annrun@${originalDigest}`);
      const mounts = await sn.view('v1', chain);
      const seen = await withMounts(mounts, (d) => readInChild(path.join(d, 'etc/os-release')));
      expect(seen.equals(expected)).toBe(true);
      const fetched = layerBytesFetched(proxy!.log, img.layers[0]!.digest, img.layers[0]!.size);
      process.stdout.write(`annotated copy, view: read ${fetched} of ${img.layers[0]!.size} compressed layer bytes\n`);
      expect(fetched).toBeLessThan(img.layers[0]!.size / 4);
      await sn.remove('v1');
      await sn.remove(chain);
      expect(mountsUnder(dir)).toEqual([]);
      expect(processesMentioning('serve-nbd', dir)).toEqual([]);
    } finally {
      await sn.close();
    }
  }, 300_000);

  it.skipIf(skipContainerd)('turbo-index pull of the copy + ctr run --snapshotter turbo reads the original bytes lazily', async () => {
    const root = path.join(dir, 'root-ctr');
    const sn = new OverlaySnapshotter(root, snapshotterOptions);
    const service = await startSnapshotService(sn, path.join(dir, 'turbo.sock'));
    try {
      const containerd = await startContainerd({ snapshotterSocket: service.socketPath, plainHttpRegistries: [registry!.host, proxy!.host] });
      try {
        proxy!.reset();
        const pulled = await turboIndex(['pull', copyRef, '--containerd-address', containerd.address, '--snapshotter-root', root]);
        expect(pulled.stderr).toBe('');
        expect(pulled.status).toBe(0);
        expect((await containerd.ctr(['images', 'ls'])).split('\n').find((l) => l.startsWith(`${copyRef} `))).toContain(copyDigest);
        const out = await containerd.ctr(['run', '--rm', '--snapshotter', 'turbo', copyRef, 'annrun-t1', 'cat', '/etc/os-release']);
        expect(out).toBe(expected.toString());
        const fetched = layerBytesFetched(proxy!.log, img.layers[0]!.digest, img.layers[0]!.size);
        process.stdout.write(`annotated copy, turbo-index pull + ctr run: read ${fetched} of ${img.layers[0]!.size} compressed layer bytes\n`);
        expect(fetched).toBeLessThan(img.layers[0]!.size / 4);
        // containerd's GC removes the container's snapshot through our Remove (asynchronously), which tears the chain mount down.
        await containerd.collectUntil(async () => (await sn.walk(['kind==active'])).length === 0 && mountsUnder(root).length === 0 && processesMentioning('serve-nbd', dir).length === 0);
        expect(await sn.walk(['kind==active'])).toEqual([]);
        expect(mountsUnder(root)).toEqual([]);
      } finally {
        await containerd.stop();
      }
    } finally {
      await service.close(1000);
      for (const info of await sn.walk()) if (info.kind !== 'COMMITTED') await sn.remove(info.name);
      await sn.cleanup();
      await sn.close();
    }
  }, 300_000);
});
