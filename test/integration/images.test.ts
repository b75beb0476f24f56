// Tests of the image fixture helpers: the Debian OCI image, tree description/comparison and the tar writer.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingNeeds } from '../helpers/capabilities.js';
import {
  DEBIAN_LAYER_COUNT, LOWER_HARDLINK_TARGET, compareTrees, debianImage, expectedTree, mirrorFromAptSources, pushToRegistry, readLayoutManifest,
  seededBytes, tarBytes, withFixtureLock, type TarEntrySpec,
} from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const tmp = makeTempDir('images-test-');

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** `tar -tvf` lines of a tar file. */
function tarListing(file: string): string[] {
  return execFileSync('tar', ['-tvf', file], { maxBuffer: 1 << 28 }).toString().split('\n').filter((l) => l.length > 0);
}

/** Names of the entries of a tar (GNU tar's view). */
function tarNames(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { maxBuffer: 1 << 28 }).toString().split('\n').filter((l) => l.length > 0);
}

describe('tar writer', () => {
  it('writes archives that GNU tar extracts to the same bytes, names, modes, links and xattrs', () => {
    const data = seededBytes('tar-writer', 70_000);
    const entries: TarEntrySpec[] = [
      { path: 'd', type: 'dir', mode: 0o750, mtime: 1_600_000_000 },
      { path: 'd/data.bin', type: 'file', mode: 0o640, mtime: 1_600_000_001, data },
      { path: `d/${'l'.repeat(120)}`, type: 'file', mode: 0o600, mtime: 1_600_000_002, data: Buffer.from('long name\n'), xattrs: { 'user.k': 'v' } },
      { path: 'd/sym', type: 'symlink', mode: 0o777, mtime: 1_600_000_003, linkname: 'data.bin' },
      { path: 'd/hard', type: 'hardlink', mode: 0o640, mtime: 1_600_000_004, linkname: 'd/data.bin' },
    ];
    const tarFile = path.join(tmp, 'writer.tar');
    writeFileSync(tarFile, tarBytes(entries));
    const out = path.join(tmp, 'writer-out');
    mkdirSync(out);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xpf', tarFile, '-C', out]);
    expect(readFileSync(path.join(out, 'd/data.bin')).equals(data)).toBe(true);
    expect(readFileSync(path.join(out, 'd', 'l'.repeat(120))).toString()).toBe('long name\n');
    expect(tarNames(tarFile)).toEqual(['d/', 'd/data.bin', `d/${'l'.repeat(120)}`, 'd/sym', 'd/hard']);
    const listing = tarListing(tarFile);
    expect(listing[1]).toMatch(/^-rw-r----- 0\/0\s+70000 2020-09-13 /);
    expect(listing[4]).toMatch(/d\/hard link to d\/data\.bin$/);
    expect(listing[3]).toMatch(/d\/sym -> data\.bin$/);
  });
});

describe('mirrorFromAptSources', () => {
  it('takes the first plain-suite deb URI from deb822 and one-line sources, skipping disabled, deb-src and -security', () => {
    const deb822 = [
      'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main',
      'Enabled: no\nTypes: deb\nURIs: http://disabled.example/debian\nSuites: bookworm',
      'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm',
      '# a comment\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main',
    ].join('\n\n');
    expect(mirrorFromAptSources([{ path: 'a.sources', text: deb822 }])).toBe('http://mirror.example/debian');
    const list = '# deb http://commented.example/debian bookworm main\ndeb http://sec.example/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/k.gpg] https://list.example/debian bookworm main\n';
    expect(mirrorFromAptSources([{ path: 'sources.list', text: list }])).toBe('https://list.example/debian');
    expect(mirrorFromAptSources([{ path: 'x.sources', text: 'Types: deb\nURIs: cdrom:/media/\nSuites: bookworm' }])).toBeUndefined();
  });
});

describe('withFixtureLock', () => {
  it('serialises holders of the same lock and takes over a lock whose owner died', async () => {
    const root = path.join(tmp, 'locks');
    const events: string[] = [];
    const holder = (id: string) => withFixtureLock('x', async () => {
      events.push(`${id} in`);
      await new Promise((r) => setTimeout(r, 50));
      events.push(`${id} out`);
      return id;
    }, root);
    expect(await Promise.all([holder('a'), holder('b')])).toEqual(['a', 'b']);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);
    // A lock left by a process that no longer exists.
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    mkdirSync(path.join(root, 'x.lock'));
    writeFileSync(path.join(root, 'x.lock', 'pid'), String(dead.pid));
    expect(await withFixtureLock('x', async () => 'taken over', root)).toBe('taken over');
    expect(existsSync(path.join(root, 'x.lock'))).toBe(false);
  });
});

describe('expectedTree / compareTrees', () => {
  it('describes a tree and reports each kind of difference', async () => {
    const root = path.join(tmp, 'tree');
    mkdirSync(path.join(root, 'sub'), { recursive: true });
    writeFileSync(path.join(root, 'sub/a.txt'), 'a');
    linkSync(path.join(root, 'sub/a.txt'), path.join(root, 'b.txt'));
    symlinkSync('sub/a.txt', path.join(root, 'link'));
    writeFileSync(path.join(root, 'gone.txt'), 'x');
    const before = await expectedTree(root);
    expect(before.map((e) => e.path)).toEqual(['/', '/b.txt', '/gone.txt', '/link', '/sub', '/sub/a.txt']);
    const a = before.find((e) => e.path === '/sub/a.txt')!;
    expect(a).toMatchObject({ type: 'file', size: 1, hardlinks: ['/b.txt', '/sub/a.txt'] });
    expect(a.sha256).toBe(createHash('sha256').update('a').digest('hex'));
    expect(before.find((e) => e.path === '/link')).toMatchObject({ type: 'symlink', target: 'sub/a.txt', size: 9 });
    expect(compareTrees(before, before)).toEqual([]);

    rmSync(path.join(root, 'gone.txt'));
    rmSync(path.join(root, 'b.txt'));
    writeFileSync(path.join(root, 'b.txt'), 'b');
    chmodSync(path.join(root, 'sub/a.txt'), 0o600);
    mkdirSync(path.join(root, 'lost+found'));
    writeFileSync(path.join(root, 'extra'), '');
    const after = await expectedTree(root);
    const diffs = compareTrees(before, after, { ignoreDirMtimes: true });
    expect(diffs).toContain('/gone.txt: missing (expected file)');
    expect(diffs).toContain('/sub/a.txt: mode expected 0644, got 0600');
    expect(diffs).toContain('/sub/a.txt: hardlinks expected [/b.txt,/sub/a.txt], got []');
    expect(diffs.some((d) => d.startsWith('/b.txt: sha256 expected'))).toBe(true);
    expect(diffs).toContain('/extra: unexpected file');
    expect(diffs.some((d) => d.startsWith('/lost+found'))).toBe(false);
    expect(compareTrees(before, after, { ignorePaths: ['/gone.txt', '/b.txt', '/sub', '/extra'], ignoreDirMtimes: true })).toEqual([]);
  });
});

const debianSkip = missingNeeds({ root: true, commands: ['debootstrap', 'umoci', 'skopeo', 'python3'] });

describe.skipIf(debianSkip)('debianImage', () => {
  it('is a valid 4-layer OCI layout that skopeo reads, with config and prefix tags', async () => {
    const img = await debianImage();
    expect(img.layers).toHaveLength(DEBIAN_LAYER_COUNT);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', img.ref]).toString()) as { Digest: string; Layers: string[]; Os: string; Architecture: string };
    expect(inspect.Digest).toBe(img.manifestDigest);
    expect(inspect.Layers).toEqual(img.layers.map((l) => l.digest));
    expect([inspect.Os, inspect.Architecture]).toEqual(['linux', 'amd64']);
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', img.ref]).toString()) as { config: { Cmd: string[] } };
    expect(config.config.Cmd).toEqual(['/bin/bash']);
    for (let k = 1; k <= DEBIAN_LAYER_COUNT; k++) {
      const { manifest } = readLayoutManifest(img.layoutDir, `prefix-${k}`);
      expect(manifest.layers.map((l) => l.digest)).toEqual(img.layers.slice(0, k).map((l) => l.digest));
      expect(img.prefixRef(k)).toBe(`oci:${img.layoutDir}:prefix-${k}`);
    }
    for (const layer of img.layers) {
      expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(await sha256File(layer.uncompressedTarPath)).toBe(layer.diffId);
    }
  });

  it('puts whiteouts, the opaque whiteout and the lower-layer hardlink in the promised layers', async () => {
    const img = await debianImage();
    const [l1, l2, l3, l4] = img.layers.map((l) => tarListing(l.uncompressedTarPath));
    expect(l1!.length).toBeGreaterThan(5000);
    expect(l1!.some((l) => l.endsWith(` ${LOWER_HARDLINK_TARGET}`) || l.endsWith(` ./${LOWER_HARDLINK_TARGET}`))).toBe(true);
    expect(l2!.some((l) => l.startsWith('h') && l.endsWith(`opt/turbo/hardlink-to-lower link to ${LOWER_HARDLINK_TARGET}`))).toBe(true);
    expect(tarNames(img.layers[1]!.uncompressedTarPath)).not.toContain(LOWER_HARDLINK_TARGET);
    expect(l2!.filter((l) => / opt\/turbo\/small\/file-\d{3}\.txt$/.test(l))).toHaveLength(200);
    const names3 = tarNames(img.layers[2]!.uncompressedTarPath);
    for (const wh of ['opt/turbo/.wh.delete-me.txt', 'usr/bin/.wh.apt-cdrom', 'opt/turbo/opaque-dir/.wh.old.txt']) expect(names3).toContain(wh);
    expect(names3.some((n) => n.includes('.wh..wh..opq'))).toBe(false);
    expect(l3!.some((l) => l.startsWith('h'))).toBe(true);
    const names4 = tarNames(img.layers[3]!.uncompressedTarPath);
    expect(names4).toContain('opt/turbo/opaque-target/.wh..wh..opq');
    expect(l4!).toHaveLength(3);
  });

  it('unpacks (umoci) to the expected trees, whole and as a prefix', async () => {
    const img = await debianImage();
    const full = await expectedTree(await img.unpackedRoot());
    const byPath = new Map(full.map((e) => [e.path, e]));
    expect(byPath.has('/opt/turbo/delete-me.txt')).toBe(false);
    expect(byPath.has('/usr/bin/apt-cdrom')).toBe(false);
    expect(full.filter((e) => e.path.startsWith('/opt/turbo/opaque-target/')).map((e) => e.path)).toEqual(['/opt/turbo/opaque-target/after-opaque.txt']);
    expect(full.filter((e) => e.path.startsWith('/opt/turbo/opaque-dir/')).map((e) => e.path)).toEqual(['/opt/turbo/opaque-dir/new.txt']);
    expect(byPath.get('/opt/turbo/hardlink-to-lower')?.hardlinks).toEqual(['/opt/turbo/hardlink-to-lower', `/${LOWER_HARDLINK_TARGET}`]);
    expect(byPath.get('/opt/turbo/hello.txt')?.hardlinks).toEqual(['/opt/turbo/hardlink-to-hello', '/opt/turbo/hello.txt']);
    expect(byPath.get('/opt/turbo/xattr.txt')?.xattrs).toEqual({ 'user.turbo.binary': '000102ff', 'user.turbo.comment': Buffer.from('hello xattr').toString('hex') });
    expect(byPath.get('/opt/turbo/loop-device')).toMatchObject({ type: 'block', rdevMajor: 7, rdevMinor: 200 });
    expect(byPath.get('/opt/turbo/data/random-8M.bin')?.sha256).toBe(createHash('sha256').update(seededBytes('random-8M', 8 << 20)).digest('hex'));
    expect(byPath.get('/etc/os-release')?.type).toBe('symlink');
    // No "now" timestamps leaked into the image: everything is clamped to the fixture epoch or older.
    expect(full.filter((e) => e.mtime > 1_700_010_000).map((e) => e.path)).toEqual([]);

    const prefix3 = await expectedTree(await img.unpackedRoot(3));
    const paths3 = new Set(prefix3.map((e) => e.path));
    expect(paths3.has('/opt/turbo/opaque-target/sub/b.txt')).toBe(true);
    expect(paths3.has('/opt/turbo/opaque-target/after-opaque.txt')).toBe(false);
    const diffs = compareTrees(prefix3, full);
    expect(diffs).toContain('/opt/turbo/opaque-target/sub/b.txt: missing (expected file)');
    expect(diffs).toContain('/opt/turbo/opaque-target/after-opaque.txt: unexpected file');
  });
});

/** A free loopback TCP port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

describe.skipIf(debianSkip ?? missingNeeds({ commands: ['docker-registry'] }))('pushToRegistry', () => {
  let registry: ChildProcess | undefined;
  afterAll(() => {
    registry?.kill('SIGTERM');
  });

  it('copies the image to a distribution registry with its manifest digest unchanged', async () => {
    const img = await debianImage();
    const port = await freePort();
    const dir = path.join(tmp, 'registry');
    mkdirSync(dir);
    const cfg = path.join(dir, 'config.yml');
    writeFileSync(cfg, `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${dir}/data } }\nhttp: { addr: 127.0.0.1:${port} }\n`);
    registry = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ref = await pushToRegistry(img, `http://127.0.0.1:${port}`, 'test/debian');
    expect(ref).toBe(`127.0.0.1:${port}/test/debian:latest`);
    const remote = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]).toString()) as { Digest: string; Layers: string[] };
    expect(remote.Digest).toBe(img.manifestDigest);
    expect(remote.Layers).toEqual(img.layers.map((l) => l.digest));
  });
});

