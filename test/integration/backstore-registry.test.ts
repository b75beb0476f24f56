// The backstore against a real distribution 2.8 registry after `turbo-index build`: the ls/cat/stat CLI, and fault injection through the loopback fault proxy (0 wrong bytes, bounded errors, recovery).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync, lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openLazyImage } from '../../src/backstore/open-image.js';
import { openExt4, type Ext4Volume } from '../../src/ext4/reader/ext4-volume.js';
import { isImageError } from '../../src/errors.js';
import { parseReference } from '../../src/format/oci/reference.js';
import { openImageStore } from '../../src/registry/open-store.js';
import type { LazyBlockDevice } from '../../src/backstore/lazy-device.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { startFaultProxy, type FaultPlan, type FaultProxy } from '../helpers/fault-proxy.js';
import { fixtureCacheRoot } from '../helpers/fixture-cache.js';
import { pushToRegistry } from '../helpers/images.js';
import { indexedDebian, type IndexedDebian } from '../helpers/indexed-debian.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { CLI_PATH, turboIndex } from '../helpers/turbo-index-cli.js';

const skip = missingNeeds({ commands: ['docker-registry', 'skopeo'] });
const execFileAsync = promisify(execFile);

/** `turbo-index cat` stdout as bytes. */
async function catBytes(image: string, file: string): Promise<Buffer> {
  const r = await execFileAsync(process.execPath, [CLI_PATH, 'cat', image, file], { env: { ...process.env, HOME: '/nonexistent-home', ...env }, encoding: 'buffer', maxBuffer: 1 << 28 });
  return r.stdout;
}

let fx: IndexedDebian;
let root: string;
let registry: RegistryServer;
let proxy: FaultProxy;
let ref: string;
let env: Record<string, string>;
/** Files read in the fault tests: a few large ones from different layers. */
let sample: string[];

beforeAll(async () => {
  if (skip) return;
  fx = await indexedDebian();
  root = await fx.debian.unpackedRoot();
  registry = await startRegistry();
  ref = await pushToRegistry(fx.debian, registry.url, 'debian');
  const work = makeTempDir('turbo-backstore-registry-');
  // the layer index cache persists across runs (only the index parts of layers, keyed by digest), so rebuilds are quick
  const buildCache = path.join(fixtureCacheRoot(), 'backstore-build-cache');
  const built = await turboIndex(['build', ref], { TURBO_OCI_CACHE_DIR: buildCache, TURBO_OCI_INDEX_CACHE_DIR: buildCache });
  if (built.status !== 0) throw new Error(`turbo-index build failed: ${built.stderr}`);
  env = { TURBO_OCI_SPAN_CACHE_DIR: path.join(work, 'spans') };
  proxy = await startFaultProxy(registry.host);
  sample = ['/usr/bin/bash', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/apt', '/etc/os-release']
    .filter((f) => {
      try {
        return statSync(path.join(root, f)).isFile();
      } catch {
        return false;
      }
    });
}, 600_000);

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});

describe.skipIf(skip)('turbo-index ls/cat/stat on a registry image', () => {
  it('cat returns the files of umoci unpack', async () => {
    const picks = ['/usr/bin/bash', '/etc/os-release']; // a binary, and a symlink to a file of another layer
    for (const f of picks) {
      const want = readFileSync(path.join(root, f)); // follows symlinks, as cat does
      expect((await catBytes(ref, f)).equals(want), f).toBe(true);
    }
    const missing = await turboIndex(['cat', ref, '/no/such/file'], env);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
  }, 120_000);

  it('ls --json lists the directory as umoci unpack has it', async () => {
    const r = await turboIndex(['ls', ref, '/etc', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; type: string; size: number; perm: number; uid: number; target?: string }[];
    expect(rows.map((x) => x.name).sort()).toEqual(readdirSync(path.join(root, 'etc')).sort());
    for (const row of rows) {
      const st = lstatSync(path.join(root, 'etc', row.name));
      expect(row.type, row.name).toBe(st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : row.type);
      expect(row.perm, row.name).toBe(st.mode & 0o7777);
      expect(row.uid, row.name).toBe(st.uid);
      if (st.isFile()) expect(row.size, row.name).toBe(st.size);
    }
  }, 60_000);

  it('stat --json matches lstat of the unpacked file; ls and stat work on an OCI layout too', async () => {
    const r = await turboIndex(['stat', ref, '/usr/bin/bash', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { size: number; perm: number; uid: number; gid: number; type: string; nlink: number };
    const st = lstatSync(path.join(root, 'usr/bin/bash'));
    expect(s).toMatchObject({ type: 'file', size: st.size, perm: st.mode & 0o7777, uid: st.uid, gid: st.gid, nlink: st.nlink });
    const local = await turboIndex(['stat', fx.ref, '/usr/bin/bash', '--json'], env);
    expect(JSON.parse(local.stdout)).toMatchObject({ size: st.size });
    const text = await turboIndex(['cat', fx.ref, '/etc/os-release'], env);
    expect(text.stdout).toBe(readFileSync(path.join(root, 'etc/os-release'), 'utf8'));
  }, 60_000);
});

async function openViaProxy(readTimeoutMs: number): Promise<{ dev: LazyBlockDevice; vol: Ext4Volume }> {
  proxy.reset();
  const store = await openImageStore(parseReference(`${proxy.host}/debian:latest`), { plainHttp: true, retry: { maxRetries: 3, baseDelayMs: 20, maxDelayMs: 100 } });
  const dev = await openLazyImage(store, 'latest', { cacheDir: null, readTimeoutMs, closeStore: true });
  return { dev, vol: await openExt4(dev) };
}

/** Reads the sample files; every byte must equal the unpacked file. */
async function readSample(vol: Ext4Volume): Promise<void> {
  for (const f of sample) {
    const got = await vol.readFile(f);
    if (!got.equals(readFileSync(path.join(root, f)))) expect.fail(`${f}: wrong bytes`);
  }
}

const rangeGets = (plan: (seen: number) => ReturnType<FaultPlan>): FaultPlan => (req) => (req.method === 'GET' && req.headers.range && req.path.includes('/blobs/') ? plan(req.seen) : undefined);

describe.skipIf(skip)('registry faults during reads', () => {
  it('connection resets and 5xx are retried: the bytes are right', async () => {
    const { dev, vol } = await openViaProxy(60_000);
    try {
      proxy.plan = rangeGets((seen) => (seen % 3 === 0 ? { kind: 'reset', afterBytes: 1000 } : seen % 3 === 1 ? { kind: 'status', status: 503 } : undefined));
      await readSample(vol);
      expect(proxy.log.filter((l) => l.fault).length).toBeGreaterThan(1);
      expect(dev.metrics.verificationFailures).toBe(0);
    } finally {
      await vol.close();
    }
  }, 120_000);

  it('a flipped byte is caught by the span digest and the span fetched again', async () => {
    const { dev, vol } = await openViaProxy(60_000);
    try {
      proxy.plan = rangeGets((seen) => (seen === 0 ? { kind: 'flip', offset: 77 } : undefined));
      await readSample(vol);
      expect(proxy.log.some((l) => l.fault === 'flip')).toBe(true);
      expect(dev.metrics.verificationFailures).toBeGreaterThan(0);
      expect(dev.metrics.retries).toBeGreaterThan(0);
    } finally {
      await vol.close();
    }
  }, 120_000);

  it('a registry that always flips bytes gives CORRUPT, never wrong data; reads succeed once the fault clears', async () => {
    const { dev, vol } = await openViaProxy(60_000);
    try {
      proxy.plan = rangeGets(() => ({ kind: 'flip', offset: 5 }));
      const err = await vol.readFile(sample[0]!).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isImageError(err, 'CORRUPT'), String(err)).toBe(true);
      expect(dev.metrics.verificationFailures).toBeGreaterThanOrEqual(3);
      proxy.plan = () => undefined;
      await readSample(vol);
    } finally {
      await vol.close();
    }
  }, 120_000);

  it('a trickling or stalled registry fails reads with TIMEOUT within the deadline; reads succeed once it recovers', async () => {
    const timeoutMs = 1500;
    const { dev, vol } = await openViaProxy(timeoutMs);
    try {
      for (const fault of [{ kind: 'trickle', chunkBytes: 64, delayMs: 200 }, { kind: 'stall', afterBytes: 100 }] as const) {
        proxy.plan = rangeGets(() => fault);
        const t0 = Date.now();
        const err = await vol.readFile(sample[0]!).then(
          () => undefined,
          (e: unknown) => e,
        );
        const elapsed = Date.now() - t0;
        expect(isImageError(err, 'TIMEOUT'), `${fault.kind}: ${String(err)}`).toBe(true);
        // one deadline per device read; generous slack for a loaded machine, but far below the registry client's 30 s timeouts
        expect(elapsed).toBeLessThan(timeoutMs * 8);
      }
      expect(dev.metrics.readTimeouts).toBeGreaterThanOrEqual(2);
      proxy.plan = () => undefined;
      await readSample(vol);
    } finally {
      await vol.close();
    }
  }, 120_000);
});

describe.skipIf(skip)('background fetch', () => {
  it('downloads every layer (verified), then serves reads locally even when the registry fails', async () => {
    proxy.reset();
    const cacheDir = path.join(makeTempDir('turbo-bgfetch-'), 'spans');
    const store = await openImageStore(parseReference(`${proxy.host}/debian:latest`), { plainHttp: true, retry: { maxRetries: 1, baseDelayMs: 20, maxDelayMs: 50 } });
    const dev = await openLazyImage(store, 'latest', { cacheDir, readTimeoutMs: 60_000, closeStore: true, backgroundFetch: { bytesPerSecond: 200 * 1024 * 1024 } });
    const vol = await openExt4(dev);
    try {
      await dev.backgroundFetch;
      expect(dev.metrics.layersLocal).toBe(fx.debian.layers.length);
      expect(dev.metrics.bytesFetched).toBeGreaterThanOrEqual(fx.debian.layers.reduce((n, l) => n + l.size, 0));
      proxy.plan = (req) => (req.path.includes('/blobs/') ? { kind: 'status', status: 500 } : undefined);
      const requests = dev.metrics.requests;
      await readSample(vol);
      expect(dev.metrics.requests).toBe(requests);
      expect(dev.metrics.localReads).toBeGreaterThan(0);
      expect(readdirSync(path.join(cacheDir, 'layers')).sort()).toEqual(fx.debian.layers.map((l) => l.digest.slice(7)).sort());
    } finally {
      proxy.plan = () => undefined;
      await vol.close();
    }
  }, 120_000);
});
