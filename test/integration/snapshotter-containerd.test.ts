// Real containerd 1.6 + runc with turbo-snapshotter as its proxy snapshotter, next to containerd's own overlayfs snapshotter.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoImage, type DemoImageSummary } from '../../fixtures/demo/generate.js';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { startSnapshotService, type SnapshotService } from '../../src/snapshotter/service.js';
import type { SnapshotMount } from '../../src/snapshotter/snapshot-types.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { mountsUnder, startContainerd, untilAnswered, type Containerd } from '../helpers/containerd.js';
import { compareTrees, debianImage, expectedTree, pushToRegistry, type DebianImage } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { withMounts } from '../helpers/snapshot-mounts.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const skip = missingNeeds({ root: true, commands: ['containerd', 'ctr', 'runc', 'docker-registry', 'skopeo', 'umoci', 'debootstrap'] });

/** OCI image-spec v1.1 ChainID of the first k diff ids. */
function chainId(diffIds: string[]): string {
  return diffIds.reduce((acc, d) => (acc === '' ? d : `sha256:${createHash('sha256').update(`${acc} ${d}`).digest('hex')}`), '');
}

describe.skipIf(skip)('containerd with the turbo proxy snapshotter', () => {
  let dir: string;
  let registry: RegistryServer | undefined;
  let domain: OverlaySnapshotter | undefined;
  let service: SnapshotService | undefined;
  let containerd: Containerd | undefined;
  let img: DebianImage;
  let demo: DemoImageSummary;
  let demoRef: string;
  let baseRef: string;

  beforeAll(async () => {
    img = await debianImage();
    dir = makeTempDir('turbo-oci-snapctrd-');
    registry = await startRegistry();
    const demoLayout = path.join(dir, 'demo-layout');
    demo = generateDemoImage(demoLayout);
    demoRef = await pushToRegistry({ ref: `oci:${demoLayout}:latest` }, registry.url, 'test/demo');
    baseRef = await pushToRegistry({ ref: img.prefixRef(1) }, registry.url, 'test/debian-base');
    domain = new OverlaySnapshotter(path.join(dir, 'root'));
    service = await startSnapshotService(domain, path.join(dir, 'turbo.sock'));
    containerd = await startContainerd({ snapshotterSocket: service.socketPath, plainHttpRegistries: [registry.host] });
  });

  afterAll(async () => {
    await containerd?.stop();
    await service?.close(1000);
    await domain?.close();
    await registry?.stop();
    if (dir) expect(mountsUnder(dir)).toEqual([]);
  });

  /** Mounts a fresh view of committed `parent` in `snapshotter` (via ctr) and describes its tree. */
  async function viewTree(snapshotter: string, key: string, parent: string) {
    const json = await containerd!.ctr(['snapshots', '--snapshotter', snapshotter, 'view', '--mounts', key, parent]);
    // ctr prints containerd's mount.Mount with Go field names.
    const mounts = (JSON.parse(json) as { Type: string; Source: string; Options: string[] | null }[]).map((m): SnapshotMount => ({ type: m.Type, source: m.Source, options: m.Options ?? [] }));
    const tree = await withMounts(mounts, (d) => expectedTree(d));
    // ctr made the view under a temporary lease: containerd's GC removes it (through our Remove for turbo).
    return tree;
  }

  it('the demo image (whiteouts, opaque dir, hardlinks) unpacks to the same tree as with containerd\'s overlayfs', async () => {
    const c = containerd!;
    await c.ctr(['image', 'pull', '--plain-http', demoRef]);
    await c.ctr(['image', 'pull', '--snapshotter', 'turbo', '--plain-http', demoRef]);
    const top = chainId(demo.layers.map((l) => l.diffId));
    const ours = await viewTree('turbo', 'check-turbo', top);
    const theirs = await viewTree('overlayfs', 'check-overlayfs', top);
    expect(ours.length).toBeGreaterThan(10);
    // Directories a layer creates only implicitly get the unpack time as mtime, on both sides.
    expect(compareTrees(theirs, ours, { ignoreDirMtimes: true })).toEqual([]);
    // Every layer is one committed snapshot in our store.
    expect((await domain!.walk(['kind==committed'])).length).toBe(demo.layers.length);
  });

  it('ctr run --snapshotter turbo runs a Debian image and sees its files', async () => {
    const c = containerd!;
    const ref = baseRef;
    await c.ctr(['image', 'pull', '--snapshotter', 'turbo', '--plain-http', ref]);
    const rootfs = await img.unpackedRoot(1);
    const osRelease = await c.ctr(['run', '--rm', '--snapshotter', 'turbo', ref, 'overlay-t1', 'cat', '/etc/os-release']);
    expect(osRelease).toBe(readFileSync(path.join(rootfs, 'etc/os-release'), 'utf8'));
    const listing = await c.ctr(['run', '--rm', '--snapshotter', 'turbo', ref, 'overlay-t2', 'ls', '-A', '/etc/apt']);
    expect(listing.split('\n').filter(Boolean).sort()).toEqual(readdirSync(path.join(rootfs, 'etc/apt')).sort());
    // --rm removed the containers' active snapshots from containerd's metadata (our Remove follows at its next GC).
    expect(await c.ctr(['snapshots', '--snapshotter', 'turbo', 'ls'])).not.toMatch(/Active/);
  });

  it('a layer hardlinking a lower layer\'s file fails to unpack exactly as with containerd\'s overlayfs (containerd 1.6 applier)', async () => {
    const c = containerd!;
    const ref = await pushToRegistry(img, registry!.url, 'test/debian');
    const failure = (snapshotter: string) =>
      c.ctr(['image', 'pull', '--snapshotter', snapshotter, '--plain-http', ref]).then(
        () => 'ok',
        (e: Error) => /failed to extract layer (sha256:[0-9a-f]+): link .*hardlink-to-lower: no such file or directory/.exec(e.message)?.[1] ?? e.message,
      );
    const theirs = await failure('overlayfs');
    expect(await failure('turbo')).toBe(theirs);
    expect(theirs).toBe(img.layers[1]!.diffId);
  });

  it('a running container keeps its files while turbo-snapshotter is down and after it restarts from its store', async () => {
    const c = containerd!;
    await c.ctr(['image', 'pull', '--snapshotter', 'turbo', '--plain-http', baseRef]);
    const expected = readFileSync(path.join(await img.unpackedRoot(1), 'etc/os-release'), 'utf8');
    await c.ctr(['run', '-d', '--snapshotter', 'turbo', baseRef, 'overlay-long', 'sleep', '600']);
    try {
      const before = await domain!.walk();
      await service!.close(1000);
      await domain!.close();
      expect(await c.ctr(['tasks', 'exec', '--exec-id', 'down', 'overlay-long', 'cat', '/etc/os-release'])).toBe(expected);
      domain = new OverlaySnapshotter(path.join(dir, 'root'));
      service = await startSnapshotService(domain, path.join(dir, 'turbo.sock'));
      expect(await domain.walk()).toEqual(before);
      expect(before.some((i) => i.kind === 'ACTIVE' && i.name.endsWith('/overlay-long'))).toBe(true);
      // containerd reconnects (grpc backoff after the outage): Usage is answered by the restarted daemon.
      expect(await untilAnswered(() => c.ctr(['snapshots', '--snapshotter', 'turbo', 'usage'], 20_000))).toMatch(/overlay-long/);
      expect(await c.ctr(['tasks', 'exec', '--exec-id', 'up', 'overlay-long', 'cat', '/etc/os-release'])).toBe(expected);
    } finally {
      await c.ctr(['tasks', 'kill', '-s', 'SIGKILL', 'overlay-long']).catch(() => undefined);
      await c.ctr(['tasks', 'delete', '-f', 'overlay-long']).catch(() => undefined);
      await c.ctr(['containers', 'rm', 'overlay-long']).catch(() => undefined);
    }
  });
});
