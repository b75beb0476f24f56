// `turbo-index build|inspect|verify` against real distribution 2.8 (referrers via the sha256-<hex> tag fallback) with the Debian fixture image:
// publish, inspect, verify, determinism across layout and registry, skopeo interop, layer reuse (counted blob GETs), interrupted builds.
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildIndex } from '../../indexer/pipeline/build-index.js';
import type { LayerParts } from '../../indexer/pipeline/layer-parts.js';
import { resolveImages } from '../../indexer/pipeline/resolve-image.js';
import { INDEX_ARTIFACT_TYPE } from '../../src/format/artifact/index-artifact.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { debianImage, pushToRegistry, type DebianImage } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { spawnTurboIndex, turboIndex } from '../helpers/turbo-index-cli.js';

const run = promisify(execFile);
const skip = missingNeeds({ root: true, commands: ['docker-registry', 'skopeo', 'umoci', 'debootstrap', 'python3'] });

interface BuildReport {
  digest: string;
  indexes: { subject: string; layers: { digest: string; source: string }[] }[];
}

// Generous timeouts: each test runs the CLI several times over ~60 MB, and the 2 cores are often shared.
describe.skipIf(skip)('turbo-index build against distribution 2.8', { timeout: 600_000 }, () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let debian: DebianImage;
  let work: string;
  let indexDigest: string;
  const cacheEnv = (name: string): Record<string, string> => ({ TURBO_OCI_INDEX_CACHE_DIR: path.join(work, name) });
  const blobGets = (repo: string, digest: string): number => proxy.log.filter((r) => r.method === 'GET' && r.path === `/v2/${repo}/blobs/${digest}`).length;

  beforeAll(async () => {
    work = makeTempDir('turbo-build-registry-');
    debian = await debianImage();
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    await pushToRegistry(debian, registry.url, 'debian');
    await pushToRegistry({ ref: debian.prefixRef(2) }, registry.url, 'shared', 'a');
    await pushToRegistry(debian, registry.url, 'shared', 'b');
    await pushToRegistry({ ref: debian.prefixRef(2) }, registry.url, 'shared2', 'a');
    await pushToRegistry(debian, registry.url, 'shared2', 'b');
    await pushToRegistry({ ref: debian.prefixRef(3) }, registry.url, 'concurrent', 'a');
    await pushToRegistry(debian, registry.url, 'concurrent', 'b');
    await pushToRegistry({ ref: debian.prefixRef(3) }, registry.url, 'interrupt');
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('builds the Debian image in the registry; inspect shows the index; verify and verify --full confirm it', async () => {
    const ref = `${proxy.host}/debian:latest`;
    const r = await turboIndex(['build', ref, '--json'], cacheEnv('c1'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as BuildReport;
    indexDigest = report.digest;
    expect(report.indexes[0]!.subject).toBe(debian.manifestDigest);
    expect(report.indexes[0]!.layers.map((l) => l.digest)).toEqual(debian.layers.map((l) => l.digest));

    const inspect = await turboIndex(['inspect', ref, '--json'], cacheEnv('c1'));
    const shown = JSON.parse(inspect.stdout) as { image: string; indexes: { digest: string; layers: { points: number; percentOfLayer: number }[] }[] }[];
    expect(shown[0]!.image).toBe(debian.manifestDigest);
    expect(shown[0]!.indexes.map((i) => i.digest)).toEqual([indexDigest]);
    expect(shown[0]!.indexes[0]!.layers[0]!.points).toBeGreaterThan(10);
    const table = await turboIndex(['inspect', ref], cacheEnv('c1'));
    expect(table.stdout).toContain(indexDigest);

    const v = await turboIndex(['verify', ref], cacheEnv('c1'));
    expect(v.stderr).toBe('');
    expect(v.stdout).toContain(`ok ${indexDigest}`);
    proxy.reset();
    const full = await turboIndex(['verify', ref, '--full'], cacheEnv('c1'));
    expect(full.status).toBe(0);
    for (const l of debian.layers) expect(blobGets('debian', l.digest)).toBe(1);
  });

  it('the index is the same when built from the OCI layout the registry copy came from', async () => {
    const r = await turboIndex(['build', debian.ref, '--output', `oci:${path.join(work, 'from-layout')}`, '--no-cache'], cacheEnv('c2'));
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(indexDigest);
  });

  it('skopeo still inspects and copies the image; its manifest digest is unchanged; the fallback tag exists', async () => {
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/debian:latest`]);
    const info = JSON.parse(stdout) as { Digest: string; Layers: string[] };
    expect(info.Digest).toBe(debian.manifestDigest);
    expect(info.Layers).toEqual(debian.layers.map((l) => l.digest));
    const dest = path.join(work, 'skopeo-copy');
    await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/debian:latest`, `oci:${dest}:copy`]);
    const { stdout: copied } = await run('skopeo', ['inspect', `oci:${dest}:copy`]);
    expect((JSON.parse(copied) as { Digest: string }).Digest).toBe(debian.manifestDigest);
    const { stdout: tags } = await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${registry.host}/debian`]);
    expect((JSON.parse(tags) as { Tags: string[] }).Tags).toContain(`sha256-${debian.manifestDigest.slice(7)}`);
  });

  it('a second image sharing base layers reuses their index parts without downloading them', async () => {
    const env = cacheEnv('c3');
    const a = await turboIndex(['build', `${proxy.host}/shared:a`, '--json'], env);
    expect(a.status).toBe(0);
    proxy.reset();
    const b = await turboIndex(['build', `${proxy.host}/shared:b`, '--json'], env);
    expect(b.stderr).toBe('');
    const report = JSON.parse(b.stdout) as BuildReport;
    expect(report.indexes[0]!.layers.map((l) => l.source)).toEqual(['cache', 'cache', 'downloaded', 'downloaded']);
    expect(debian.layers.map((l) => blobGets('shared', l.digest))).toEqual([0, 0, 1, 1]);
    // Same parts, same bytes: the index equals the one built from scratch.
    expect(report.digest).toBe(indexDigest);
  });

  it('without a local cache, the second image reuses the parts published in the index of the first (found through the repository)', async () => {
    const a = await turboIndex(['build', `${proxy.host}/shared2:a`, '--no-cache'], cacheEnv('unused'));
    expect(a.status).toBe(0);
    proxy.reset();
    const b = await turboIndex(['build', `${proxy.host}/shared2:b`, '--no-cache', '--json'], cacheEnv('unused'));
    expect(b.stderr).toBe('');
    const report = JSON.parse(b.stdout) as BuildReport;
    expect(report.indexes[0]!.layers.map((l) => l.source)).toEqual(['published', 'published', 'downloaded', 'downloaded']);
    expect(debian.layers.map((l) => blobGets('shared2', l.digest))).toEqual([0, 0, 1, 1]);
    expect(report.digest).toBe(indexDigest);
  });

  it('two images sharing base layers built concurrently download each layer once', async () => {
    proxy.reset();
    const client = new RegistryClient({});
    try {
      const repo = client.repository(proxy.host, 'concurrent');
      const inflight = new Map<string, Promise<LayerParts>>();
      const [imgA] = await resolveImages(repo, 'a');
      const [imgB] = await resolveImages(repo, 'b');
      const [ia, ib] = await Promise.all([buildIndex(repo, imgA!, { spanBytes: 1 << 20, inflight }), buildIndex(repo, imgB!, { spanBytes: 1 << 20, inflight })]);
      expect(debian.layers.map((l) => blobGets('concurrent', l.digest))).toEqual([1, 1, 1, 1]);
      expect(ib.layers.slice(0, 3).map((l) => l.source)).toContain('shared');
      expect(ib.digest).toBe(indexDigest);
      expect(ia.artifact.layers.map((l) => l.chainId)).toEqual(ib.artifact.layers.slice(0, 3).map((l) => l.chainId));
    } finally {
      await client.close();
    }
  });

  it('an interrupted build (Ctrl-C during upload) exits cleanly and publishes no index manifest', async () => {
    proxy.reset();
    proxy.plan = (req) => (req.method === 'POST' && req.path.includes('/blobs/uploads/') ? { kind: 'status', status: 503 } : undefined);
    const { child, done } = spawnTurboIndex(['build', `${proxy.host}/interrupt:latest`], cacheEnv('c4'));
    for (let i = 0; i < 3000 && !proxy.log.some((r) => r.method === 'POST'); i++) await sleep(100);
    expect(proxy.log.some((r) => r.method === 'POST')).toBe(true);
    child.kill('SIGINT');
    const result = await done;
    proxy.reset();
    expect(result.status).toBe(130);
    expect(result.stderr).toContain('interrupted');
    const client = new RegistryClient({});
    try {
      const repo = client.repository(registry.host, 'interrupt');
      const subject = await repo.resolve('latest');
      expect(await repo.listReferrers(subject.digest, INDEX_ARTIFACT_TYPE)).toEqual([]);
      expect(proxy.log.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('a layer blob whose bytes do not match its digest fails with CORRUPT naming it, and publishes nothing', async () => {
    const bad = debian.layers[1]!.digest;
    proxy.reset();
    proxy.plan = (req) => (req.method === 'GET' && req.path === `/v2/interrupt/blobs/${bad}` ? { kind: 'flip', offset: 1000 } : undefined);
    const r = await turboIndex(['build', `${proxy.host}/interrupt:latest`, '--no-cache'], cacheEnv('c5'));
    proxy.reset();
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('CORRUPT');
    expect(r.stderr).toContain(bad);
    const client = new RegistryClient({});
    try {
      const repo = client.repository(registry.host, 'interrupt');
      expect(await repo.listReferrers((await repo.resolve('latest')).digest, INDEX_ARTIFACT_TYPE)).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
