// Images that share base layers with an indexed one, on real containerd (root): the lazy base chain (k = 0 of a 2-layer indexed image) serves a non-indexed base-only image and an image with another top layer, next to the indexed image's own chain.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference, referenceTarget } from '../../src/format/oci/reference.js';
import { openImageStore } from '../../src/registry/open-store.js';
import { resolveLazyImage, type ResolvedLazyImage } from '../../src/snapshotter/lazy-image-resolver.js';
import { lazyLabels } from '../../src/snapshotter/lazy-layer.js';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { startSnapshotService, type SnapshotService } from '../../src/snapshotter/service.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { mountsUnder, startContainerd, type Containerd } from '../helpers/containerd.js';
import { layerBytesFetched, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { debianImage, FIXTURE_EPOCH, pushToRegistry, seededText, type DebianImage, type TarEntrySpec } from '../helpers/images.js';
import { pushLayeredImage, type LayeredImage } from '../helpers/images/layered-image.js';
import { processArgvsMentioning } from '../helpers/processes.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { UNCACHED_SERVE_NBD } from '../helpers/lazy-serving.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { turboIndex } from '../helpers/turbo-index-cli.js';

const skip = missingNeeds({ root: true, commands: ['docker-registry', 'skopeo', 'umoci', 'debootstrap', 'nbdfuse', 'losetup', 'containerd', 'ctr', 'runc'] });
/** The built CLI, no disk cache (every byte read is fetched, so the proxy log counts them). */
const snapshotterOptions = { serveNbd: UNCACHED_SERVE_NBD };

/** Command lines of running serve-nbd processes that mention `needle`. */
const serveNbdArgv = (needle: string): string[][] => processArgvsMentioning('serve-nbd', needle).map((p) => p.argv);

const file = (p: string, data: string | Buffer): TarEntrySpec => ({ path: p, type: 'file', mode: 0o644, mtime: FIXTURE_EPOCH, data: Buffer.from(data) });
/** Image A's top layer: a new file, a new directory and an override of the base's /etc/motd. */
const LAYER_A: TarEntrySpec[] = [
  file('opt/a.txt', 'written by image A\n'),
  { path: 'opt/a', type: 'dir', mode: 0o755, mtime: FIXTURE_EPOCH },
  file('opt/a/numbers.txt', seededText('shared-base-a', 20_000)),
  file('etc/motd', 'motd of image A\n'),
];
/** Image C's top layer: other files, and its own /etc/motd. */
const LAYER_C: TarEntrySpec[] = [file('opt/c.txt', 'written by image C\n'), file('etc/motd', 'motd of image C\n')];

describe.skipIf(skip)('images sharing base layers with an indexed image (containerd)', () => {
  let dir: string;
  let registry: RegistryServer | undefined;
  let proxy: FaultProxy | undefined;
  let sn: OverlaySnapshotter | undefined;
  let service: SnapshotService | undefined;
  let containerd: Containerd | undefined;
  let img: DebianImage;
  let imageA: LayeredImage & { ref: string };
  let resolvedA: ResolvedLazyImage;
  let refA: string;
  let refB: string;
  let refC: string;
  /** /etc/os-release (-> /usr/lib/os-release) of the base layer. */
  let osRelease: string;

  beforeAll(async () => {
    img = await debianImage();
    dir = makeTempDir('turbo-oci-snapshared-');
    registry = await startRegistry();
    imageA = await pushLayeredImage(img.prefixRef(1), registry.url, 'test/shared-a', [LAYER_A]);
    const built = await turboIndex(['build', imageA.ref, '--no-cache']);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    refB = await pushToRegistry({ ref: img.prefixRef(1) }, registry.url, 'test/shared-b');
    refC = (await pushLayeredImage(img.prefixRef(1), registry.url, 'test/shared-c', [LAYER_C])).ref;
    // A's serve-nbd daemons read through a proxy that logs every request (B and C are pulled from the registry itself).
    proxy = await startFaultProxy(registry.host);
    refA = imageA.ref.replace(registry.host, proxy.host);
    const store = await openImageStore(parseReference(refA));
    try {
      resolvedA = await resolveLazyImage(store, parseReference(refA), referenceTarget(parseReference(refA)));
    } finally {
      await store.close();
    }
    osRelease = execFileSync('tar', ['-xOf', img.layers[0]!.uncompressedTarPath, 'usr/lib/os-release']).toString();
    expect(osRelease).toContain('ID=debian');
    sn = new OverlaySnapshotter(path.join(dir, 'root'), snapshotterOptions);
    service = await startSnapshotService(sn, path.join(dir, 'turbo.sock'));
    containerd = await startContainerd({ snapshotterSocket: service.socketPath, plainHttpRegistries: [registry.host, proxy.host] });
  }, 600_000);

  afterAll(async () => {
    await containerd?.stop();
    await service?.close(1000);
    // containerd's GC may not have removed everything: drop containers and views, then Cleanup unmounts unused chains.
    for (const info of (await sn?.walk()) ?? []) if (info.kind !== 'COMMITTED') await sn!.remove(info.name);
    await sn?.cleanup();
    await sn?.close();
    await proxy?.stop();
    await registry?.stop();
    if (dir) {
      expect(mountsUnder(dir)).toEqual([]);
      expect(serveNbdArgv(dir)).toEqual([]);
    }
  });

  /** Runs `sh -c script` in a new task of container `id`. */
  const exec = (id: string, script: string) => containerd!.ctr(['tasks', 'exec', '--exec-id', `${id}-exec`, id, 'sh', '-c', script]);

  /** Kills and deletes containers `ids`, then waits until containerd's GC has removed their snapshots and the chain mounts are gone. */
  async function stopContainers(...ids: string[]): Promise<void> {
    for (const id of ids) {
      await containerd!.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]).catch(() => undefined);
      await containerd!.ctr(['tasks', 'delete', '-f', id]).catch(() => undefined);
      await containerd!.ctr(['containers', 'rm', id]);
    }
    await settle();
  }

  /**
   * Collects containerd's garbage until it has removed every active snapshot and the chain mounts and daemons are gone
   * (waiting alone is not enough: containerd 1.6 can skip a removal that lands during a running collection).
   */
  async function settle(): Promise<void> {
    await containerd!.collectUntil(async () => (await sn!.walk(['kind==active'])).length === 0 && mountsUnder(path.join(dir, 'root')).length === 0 && serveNbdArgv(dir).length === 0);
    expect(await sn!.walk(['kind==active'])).toEqual([]);
    expect(mountsUnder(path.join(dir, 'root'))).toEqual([]);
    expect(serveNbdArgv(dir)).toEqual([]);
  }

  it('turbo-index pull of A; a non-indexed base-only image B runs on chain 0 of A (serve-nbd --layers 1) next to A on its own chain 1', async () => {
    const s = sn!;
    const c = containerd!;
    const pulled = await turboIndex(['pull', refA, '--containerd-address', c.address, '--snapshotter-root', path.join(dir, 'root')]);
    expect(pulled.stderr).toBe('');
    expect(pulled.status).toBe(0);
    const [entry0, entry1] = resolvedA.entries;
    expect(resolvedA.entries.length).toBe(2);
    expect(entry0!.chainId).toBe(img.layers[0]!.diffId);
    const lazy0 = { ...(await s.stat(entry0!.chainId)).labels };
    expect(lazy0).toMatchObject(lazyLabels(entry0!.layer));
    expect((await s.stat(entry1!.chainId)).labels).toMatchObject(lazyLabels(entry1!.layer));

    // B = the base layer alone, not indexed: ctr pulls it (downloads the blob) but finds its chain ID committed, so
    // nothing is unpacked and the lazy snapshot stays as it was.
    await c.ctr(['image', 'pull', '--snapshotter', 'turbo', '--plain-http', refB]);
    expect((await s.stat(entry0!.chainId)).labels).toEqual(lazy0);
    expect((await s.walk()).map((i) => i.name).sort()).toEqual([entry0!.chainId, entry1!.chainId].sort());

    proxy!.reset();
    await c.ctr(['run', '-d', '--snapshotter', 'turbo', refB, 'shared-b', 'sleep', '600']);
    await c.ctr(['run', '-d', '--snapshotter', 'turbo', refA, 'shared-a', 'sleep', '600']);
    try {
      // Two chain mounts of one index: k = 0 (--layers 1) for B, k = 1 (the whole image) for A.
      const mounts = s.catalog.allMounts().map((m) => [m.indexDigest, m.layerIndex]).sort();
      expect(mounts).toEqual([[resolvedA.indexDigest, 0], [resolvedA.indexDigest, 1]]);
      const daemons = serveNbdArgv(dir);
      expect(daemons.length).toBe(2);
      const layersFlag = (argv: string[]) => (argv.includes('--layers') ? argv[argv.indexOf('--layers') + 1] : undefined);
      expect(daemons.map(layersFlag).sort()).toEqual(['1', undefined]);
      expect(daemons.every((argv) => argv.includes(entry0!.layer.imageRef))).toBe(true);

      expect(await exec('shared-b', 'cat /etc/os-release')).toBe(osRelease);
      expect(await exec('shared-b', 'cat /etc/motd; test ! -e /opt/a.txt && echo no-a')).toBe(`${execFileSync('tar', ['-xOf', img.layers[0]!.uncompressedTarPath, 'etc/motd']).toString()}no-a\n`);
      const numbers = LAYER_A[2]!.data!.toString();
      expect(await exec('shared-a', 'cat /opt/a.txt /etc/motd /opt/a/numbers.txt /etc/os-release')).toBe(`written by image A\nmotd of image A\n${numbers}${osRelease}`);
      const fetched = layerBytesFetched(proxy!.log, img.layers[0]!.digest, img.layers[0]!.size);
      process.stdout.write(`two containers on chains 0 and 1 read ${fetched} of ${img.layers[0]!.size} compressed base-layer bytes\n`);
      expect(fetched).toBeGreaterThan(0);
      expect(fetched).toBeLessThan(img.layers[0]!.size / 2);
    } finally {
      await stopContainers('shared-b', 'shared-a');
    }
    // The lazy snapshots are still the committed base of both images.
    expect((await s.stat(entry0!.chainId)).labels).toEqual(lazy0);
    // And the plain way: ctr run --rm of B prints the base layer's file; the chain goes away with the container.
    expect(await c.ctr(['run', '--rm', '--snapshotter', 'turbo', refB, 'shared-b2', 'cat', '/etc/os-release'])).toBe(osRelease);
    await settle();
  }, 300_000);

  it('an image C = base + another top layer (not indexed) unpacks its top layer onto the lazy chain 0 and runs', async () => {
    const s = sn!;
    const c = containerd!;
    const [entry0] = resolvedA.entries;
    const before = new Set((await s.walk()).map((i) => i.name));
    // containerd mounts the extraction snapshot (overlay on the chain-0 mount), applies C's top layer, commits it.
    await c.ctr(['image', 'pull', '--snapshotter', 'turbo', '--plain-http', refC]);
    const added = (await s.walk()).filter((i) => !before.has(i.name));
    expect(added.map((i) => [i.kind, i.parent])).toEqual([['COMMITTED', entry0!.chainId]]);
    expect(added[0]!.labels['dev.turbo-oci/index-digest']).toBeUndefined();
    // Committing ended the extraction's use of the chain mount.
    expect(mountsUnder(path.join(dir, 'root'))).toEqual([]);
    expect(serveNbdArgv(dir)).toEqual([]);

    await c.ctr(['run', '-d', '--snapshotter', 'turbo', refC, 'shared-c', 'sleep', '600']);
    try {
      expect(serveNbdArgv(dir).map((argv) => argv.slice(argv.indexOf('--layers'), argv.indexOf('--layers') + 2))).toEqual([['--layers', '1']]);
      expect(await exec('shared-c', 'cat /opt/c.txt /etc/motd /etc/os-release; test ! -e /opt/a.txt && echo no-a')).toBe(`written by image C\nmotd of image C\n${osRelease}no-a\n`);
    } finally {
      await stopContainers('shared-c');
    }
  }, 300_000);
});
