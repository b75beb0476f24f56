// Indexed layers served lazily by the snapshotter (root): Prepare answers ALREADY_EXISTS, views and containers mount one shared read-only ext4 of the image.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference, referenceTarget } from '../../src/format/oci/reference.js';
import { openImageStore } from '../../src/registry/open-store.js';
import { CRI_LABELS, lazyLabels, TARGET_SNAPSHOT_LABEL } from '../../src/snapshotter/lazy-layer.js';
import { resolveLazyImage, type ResolvedLazyImage } from '../../src/snapshotter/lazy-image-resolver.js';
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
/** How the tests' snapshotters start serve-nbd: the built CLI, no disk cache (every byte read is fetched). */
const snapshotterOptions = { serveNbd: UNCACHED_SERVE_NBD };
const skipContainerd = skip || missingNeeds({ commands: ['containerd', 'ctr', 'runc'] });

describe.skipIf(skip)('lazy indexed layers in the snapshotter', () => {
  let dir: string;
  let registry: RegistryServer | undefined;
  let proxy: FaultProxy | undefined;
  let sn: OverlaySnapshotter | undefined;
  let img: DebianImage;
  let resolved: ResolvedLazyImage;
  let proxyRef: string;

  beforeAll(async () => {
    img = await debianImage();
    dir = makeTempDir('turbo-oci-snaplazy-');
    registry = await startRegistry();
    const ref = await pushToRegistry({ ref: img.prefixRef(1) }, registry.url, 'test/lazy');
    const built = await turboIndex(['build', ref, '--no-cache']);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    // The daemon reads through a proxy that logs every request, to count the layer bytes fetched.
    proxy = await startFaultProxy(registry.host);
    proxyRef = ref.replace(registry.host, proxy.host);
    const viaProxy = parseReference(proxyRef);
    const store = await openImageStore(viaProxy);
    try {
      resolved = await resolveLazyImage(store, viaProxy, referenceTarget(viaProxy));
    } finally {
      await store.close();
    }
    sn = new OverlaySnapshotter(path.join(dir, 'root'), snapshotterOptions);
    sn.catalog.record(resolved.entries);
  }, 600_000);

  afterAll(async () => {
    // After a failed test: drop the remaining containers and views, then Cleanup tears the unused chain mounts down.
    for (const info of (await sn?.walk()) ?? []) if (info.kind !== 'COMMITTED') await sn!.remove(info.name);
    await sn?.cleanup();
    await sn?.close();
    await proxy?.stop();
    await registry?.stop();
    if (dir) {
      expect(mountsUnder(dir)).toEqual([]);
      expect(processesMentioning('serve-nbd', dir)).toEqual([]);
    }
  });

  it('Prepare of a catalogued layer answers ALREADY_EXISTS; a view and a container share one lazy mount, torn down with the last user', async () => {
    let s = sn!;
    expect(resolved.entries.length).toBe(1);
    const chain = resolved.entries[0]!.chainId;
    expect(chain).toBe(img.layers[0]!.diffId);
    await expect(s.prepare(`default/1/extract-1 ${chain}`, '', { [TARGET_SNAPSHOT_LABEL]: chain })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((await s.stat(chain)).labels).toEqual({ [TARGET_SNAPSHOT_LABEL]: chain, ...lazyLabels(resolved.entries[0]!.layer) });
    proxy!.reset();

    const expected = execFileSync('tar', ['-xOf', img.layers[0]!.uncompressedTarPath, 'usr/lib/os-release']);
    expect(expected.length).toBeGreaterThan(50);
    expect(expected.toString()).toContain("ID=debian");
    const viewMounts = await s.view('v1', chain);
    expect(viewMounts).toEqual([{ type: 'bind', source: expect.stringContaining(path.join(dir, 'root', 'lazy')), options: ['ro', 'rbind'] }]);
    const seen = await withMounts(viewMounts, (d) => readInChild(path.join(d, 'etc/os-release')));
    expect(seen.equals(expected)).toBe(true);

    // A container on top: overlay over the same chain mount; writes land in its own upperdir.
    const ctrMounts = await s.prepare('c1', chain);
    expect(ctrMounts[0]!.options).toContain(`lowerdir=${viewMounts[0]!.source}`);
    await withMounts(ctrMounts, async (d) => {
      expect((await readInChild(path.join(d, 'etc/os-release'))).equals(expected)).toBe(true);
      await promisify(execFile)('sh', ['-c', 'echo hello > "$1"', 'sh', path.join(d, 'etc/written')]);
    });
    const upper = ctrMounts[0]!.options.find((o) => o.startsWith('upperdir='))!.slice('upperdir='.length);
    expect(readFileSync(path.join(upper, 'etc', 'written'), 'utf8')).toBe('hello\n');
    expect(processesMentioning('serve-nbd', dir).length).toBe(1);
    expect(mountsUnder(dir)).toContain(viewMounts[0]!.source);

    // Bytes of the layer blob fetched: ranges only, far below the layer's size.
    const layer = img.layers[0]!;
    const fetched = layerBytesFetched(proxy!.log, layer.digest, layer.size);
    process.stdout.write(`lazy view + container read ${fetched} of ${layer.size} compressed layer bytes\n`);
    expect(fetched).toBeLessThan(layer.size / 4);

    // A restarted snapshotter re-adopts the live chain mount (same daemon, same mount) from lazy.db.
    const daemons = processesMentioning('serve-nbd', dir);
    await s.close();
    sn = s = new OverlaySnapshotter(path.join(dir, 'root'), snapshotterOptions);
    expect(await s.mounts('v1')).toEqual(viewMounts);
    expect(await s.mounts('c1')).toEqual(ctrMounts);
    expect(processesMentioning('serve-nbd', dir)).toEqual(daemons);
    expect((await withMounts(viewMounts, (d) => readInChild(path.join(d, 'etc/os-release')))).equals(expected)).toBe(true);

    await s.remove('v1');
    expect(mountsUnder(dir)).toContain(viewMounts[0]!.source);
    await s.remove('c1');
    expect(mountsUnder(dir)).toEqual([]);
    expect(processesMentioning('serve-nbd', dir)).toEqual([]);
    await s.remove(chain);
    expect(await s.walk()).toEqual([]);
  }, 300_000);

  it.skipIf(skipContainerd)('turbo-index pull + ctr run --snapshotter turbo starts the indexed image lazily on real containerd', async () => {
    const s = sn!;
    const service = await startSnapshotService(s, path.join(dir, 'turbo.sock'));
    const containerd = await startContainerd({ snapshotterSocket: service.socketPath, plainHttpRegistries: [registry!.host, proxy!.host] });
    try {
      proxy!.reset();
      const pulled = await turboIndex(['pull', proxyRef, '--containerd-address', containerd.address, '--snapshotter-root', path.join(dir, 'root')]);
      expect(pulled.stderr).toBe('');
      expect(pulled.status).toBe(0);
      expect(await containerd.ctr(['images', 'ls', '-q'])).toContain(proxyRef);
      const chain = resolved.entries[0]!.chainId;
      expect((await s.stat(chain)).labels).toMatchObject(lazyLabels(resolved.entries[0]!.layer));
      const expected = execFileSync('tar', ['-xOf', img.layers[0]!.uncompressedTarPath, 'usr/lib/os-release']);
      const out = await containerd.ctr(['run', '--rm', '--snapshotter', 'turbo', proxyRef, 't1', 'cat', '/etc/os-release']);
      expect(out).toBe(expected.toString());
      const fetched = layerBytesFetched(proxy!.log, img.layers[0]!.digest, img.layers[0]!.size);
      process.stdout.write(`turbo-index pull + ctr run read ${fetched} of ${img.layers[0]!.size} compressed layer bytes\n`);
      expect(fetched).toBeLessThan(img.layers[0]!.size / 4);
      // ctr run --rm deletes the container; containerd's GC then removes its snapshot through our Remove (asynchronously),
      // which tears the chain mount and its daemon down.
      await containerd.collectUntil(async () => (await s.walk(['kind==active'])).length === 0 && mountsUnder(path.join(dir, 'root')).length === 0 && processesMentioning('serve-nbd', dir).length === 0);
      expect(await s.walk(['kind==active'])).toEqual([]);
      expect(mountsUnder(path.join(dir, 'root'))).toEqual([]);
      expect(processesMentioning('serve-nbd', dir)).toEqual([]);
    } finally {
      await containerd.stop();
      await service.close(1000);
    }
  }, 300_000);

  it('CRI labels: a referrers lookup finds the index (and the catalog caches it); an image without an index unpacks as usual', async () => {
    const plainRef = (await pushToRegistry({ ref: img.prefixRef(1) }, registry!.url, 'test/plain')).replace(registry!.host, proxy!.host);
    const cri = new OverlaySnapshotter(path.join(dir, 'root-cri'));
    try {
      const chain = resolved.entries[0]!.chainId;
      const criLabels = (ref: string) => ({ [TARGET_SNAPSHOT_LABEL]: chain, [CRI_LABELS.imageRef]: ref, [CRI_LABELS.manifestDigest]: resolved.imageDigest, [CRI_LABELS.layerDigest]: img.layers[0]!.digest });
      // Same manifest in a repository without a referrer: ordinary unpack (an active snapshot with a mount).
      const mounts = await cri.prepare(`extract-1 ${chain}`, '', criLabels(plainRef));
      expect(mounts.length).toBe(1);
      expect((await cri.stat(`extract-1 ${chain}`)).kind).toBe('ACTIVE');
      await cri.remove(`extract-1 ${chain}`);
      expect(cri.catalog.lookup(chain)).toBeUndefined();
      // The indexed repository: ALREADY_EXISTS with the layer found through the referrers API.
      await expect(cri.prepare(`extract-2 ${chain}`, '', criLabels(proxyRef))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect((await cri.stat(chain)).labels).toMatchObject(lazyLabels(resolved.entries[0]!.layer));
      expect(cri.catalog.lookup(chain)).toEqual(resolved.entries[0]!.layer);
    } finally {
      await cri.close();
    }
  }, 120_000);
});
