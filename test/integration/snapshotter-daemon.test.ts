// The turbo-snapshotter binary on real containerd with lazy layers: a container keeps reading unread files across a SIGKILL of the daemon, the restarted daemon re-adopts the chain mount, and a crash in the middle of a chain mount is recovered.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { mountsUnder, startContainerd, untilAnswered, type Containerd } from '../helpers/containerd.js';
import { layerBytesFetched, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { debianImage, pushToRegistry, type DebianImage } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.js';
import { processArgv, processesMentioning, processRuns } from '../helpers/processes.js';
import { startSnapshotterDaemon, type SnapshotterDaemon } from '../helpers/snapshotter-daemon.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { turboIndex } from '../helpers/turbo-index-cli.js';

const skip = missingNeeds({ root: true, commands: ['containerd', 'ctr', 'runc', 'docker-registry', 'skopeo', 'umoci', 'debootstrap', 'nbdfuse', 'losetup'] });

/** Extra serve-nbd flags set in the daemon's config file: no disk cache (every byte read is fetched), plus a flag with a value. */
const SERVE_NBD_ARGS = ['--no-disk-cache', '--readahead', '1'];
/** Container ids of this file (unique across test files: containerd instances are separate, but logs are easier to read). */
const FIRST = 'daemon-lazy-1';
const SECOND = 'daemon-lazy-2';
const CAUGHT = 'daemon-lazy-3';
const CAUGHT_AGAIN = 'daemon-lazy-4';
const AFTER_CRASH = 'daemon-lazy-5';
const CAUGHT_EARLY = 'daemon-lazy-6';
const AFTER_EARLY_CRASH = 'daemon-lazy-7';

/** A regular file of the layer tar: its path, size and sha256 (of the bytes in the tar). */
interface TarFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Regular files under usr/share/ (never read by sh, sleep, cat or sha256sum) of at least 32 KiB, the first at or after
 * each fraction of the tar: files far apart in the layer live in different compressed spans, so each is fetched on its own.
 */
function pickUnreadFiles(tarPath: string, fractions: number[]): TarFile[] {
  // GNU tar -R prints each member's 512-byte block number: "block N: -rw-r--r-- 0/0 SIZE DATE TIME PATH".
  const members = execFileSync('tar', ['-tvRf', tarPath], { encoding: 'utf8', maxBuffer: 1 << 26 })
    .split('\n')
    .map((line) => /^block (\d+): (\S)\S* \S+ +(\d+) \S+ \S+ (.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null);
  const lastBlock = Number(members[members.length - 1]![1]);
  const candidates = members.filter((m) => m[2] === '-' && m[4]!.startsWith('usr/share/') && Number(m[3]) >= 32 * 1024);
  return fractions.map((f) => {
    const m = candidates.find((c) => Number(c[1]) >= f * lastBlock);
    if (!m) throw new Error(`no usr/share file of >= 32 KiB after ${f * 100}% of ${tarPath}`);
    const bytes = execFileSync('tar', ['-xOf', tarPath, m[4]!], { maxBuffer: 1 << 26 });
    expect(bytes.length).toBe(Number(m[3]));
    return { path: m[4]!, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
}

/** Mounts at or below `dir` as `<mount id> <mount point>` (/proc/self/mountinfo): a remount at the same place gets a new id. */
function mountIdsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[4] !== undefined && (f[4] === dir || f[4].startsWith(`${dir}/`)))
    .map((f) => `${f[0]} ${f[4]}`)
    .sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip)('the turbo-snapshotter binary with lazy layers on real containerd', () => {
  let dir: string;
  let root: string;
  let configFile: string;
  let logFile: string;
  let registry: RegistryServer | undefined;
  let proxy: FaultProxy | undefined;
  let containerd: Containerd | undefined;
  let daemon: SnapshotterDaemon | undefined;
  let img: DebianImage;
  let proxyRef: string;
  let osRelease: Buffer;
  let files: TarFile[];
  /** The chain mount's pieces while the first container runs: mounts (with ids) under <root>/lazy and the serve-nbd pid. */
  let chainMounts: string[];
  let serveNbdPid: number;

  beforeAll(async () => {
    img = await debianImage();
    dir = makeTempDir('turbo-oci-snapdaemon-');
    root = path.join(dir, 'root');
    registry = await startRegistry();
    const ref = await pushToRegistry({ ref: img.prefixRef(1) }, registry.url, 'test/daemon');
    const built = await turboIndex(['build', ref, '--no-cache']);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    // serve-nbd reads through a proxy that logs every request, to count the layer bytes fetched.
    proxy = await startFaultProxy(registry.host);
    proxyRef = ref.replace(registry.host, proxy.host);
    const tar = img.layers[0]!.uncompressedTarPath;
    osRelease = execFileSync('tar', ['-xOf', tar, 'usr/lib/os-release']);
    expect(osRelease.toString()).toContain('ID=debian');
    files = pickUnreadFiles(tar, [0.6, 0.75, 0.9]);
    expect(new Set(files.map((f) => f.path)).size).toBe(3);

    configFile = path.join(dir, 'turbo-snapshotter.json');
    writeFileSync(configFile, JSON.stringify({ root, address: path.join(dir, 'run', 'turbo.sock'), shutdownGraceMs: 2000, serveNbdArgs: SERVE_NBD_ARGS }));
    logFile = path.join(dir, 'turbo-snapshotter.log');
    daemon = await startSnapshotterDaemon(['--config', configFile], logFile);
    containerd = await startContainerd({ snapshotterSocket: path.join(dir, 'run', 'turbo.sock'), plainHttpRegistries: [registry.host, proxy.host] });
  }, 600_000);

  afterAll(async () => {
    await containerd?.stop();
    await daemon?.stop();
    if (dir) {
      // After a failed test: drop what containerd left behind; Cleanup then tears the unused chain mounts down.
      const sn = new OverlaySnapshotter(root);
      try {
        for (const info of await sn.walk()) if (info.kind !== 'COMMITTED') await sn.remove(info.name);
        await sn.cleanup();
      } finally {
        await sn.close();
      }
    }
    await proxy?.stop();
    await registry?.stop();
    if (dir) {
      const left = leftovers();
      // A bug left processes behind: report them, but do not leave them running.
      for (const pid of [...left.serveNbd, ...left.nbdfuse]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      expect(left).toEqual({ mounts: [], serveNbd: [], nbdfuse: [] });
    }
  }, 120_000);

  /** Bytes of the layer blob fetched through the proxy since its last reset (a request without Range counts the whole blob). */
  const fetchedSinceReset = () => layerBytesFetched(proxy!.log, img.layers[0]!.digest, img.layers[0]!.size);

  /** sha256 of `file` as read inside container `id` (`ctr tasks exec`; the read does not involve the snapshotter). */
  async function sha256In(id: string, execId: string, file: string): Promise<string> {
    const out = await containerd!.ctr(['tasks', 'exec', '--exec-id', execId, id, 'sha256sum', `/${file}`]);
    return out.split(' ')[0]!;
  }

  it('turbo-index pull + ctr run -d --snapshotter turbo: a long-running container reads its files lazily through the daemon binary', async () => {
    const c = containerd!;
    proxy!.reset();
    const pulled = await turboIndex(['pull', proxyRef, '--containerd-address', c.address, '--snapshotter-root', root]);
    expect(pulled.stderr).toBe('');
    expect(pulled.status).toBe(0);
    await c.ctr(['run', '-d', '--snapshotter', 'turbo', proxyRef, FIRST, 'sh', '-c', 'while true; do sleep 1; done']);
    expect(await c.ctr(['tasks', 'exec', '--exec-id', 'os-release', FIRST, 'cat', '/etc/os-release'], 60_000)).toBe(osRelease.toString());
    expect(await sha256In(FIRST, 'first-read', files[0]!.path)).toBe(files[0]!.sha256);
    const fetched = fetchedSinceReset();
    process.stdout.write(`daemon: pull + run + 2 reads fetched ${fetched} of ${img.layers[0]!.size} compressed layer bytes\n`);
    expect(fetched).toBeLessThan(img.layers[0]!.size / 4);

    // One chain mount (FUSE file + ext4) served by one serve-nbd daemon, started with the config's serveNbdArgs.
    const pids = processesMentioning('serve-nbd', dir);
    expect(pids.length).toBe(1);
    serveNbdPid = pids[0]!;
    const argv = processArgv(serveNbdPid);
    const at = argv.indexOf(SERVE_NBD_ARGS[0]!);
    expect(at).toBeGreaterThan(argv.indexOf('serve-nbd'));
    expect(argv.slice(at, at + SERVE_NBD_ARGS.length)).toEqual(SERVE_NBD_ARGS);
    chainMounts = mountIdsUnder(path.join(root, 'lazy'));
    expect(chainMounts.some((m) => m.endsWith('/mnt'))).toBe(true);
  }, 180_000);

  it('SIGKILL of the daemon: the container keeps reading unread files (fetched lazily); the restarted binary re-adopts the chain for a second container', async () => {
    const c = containerd!;
    expect(serveNbdPid).toBeGreaterThan(0);
    const crashed = daemon!;
    await crashed.kill();
    expect(processRuns(crashed.pid)).toBe(false);
    // Everything serving the layer outlives the snapshotter: a separate serve-nbd, nbdfuse, the loop device and ext4.
    expect(processesMentioning('serve-nbd', dir)).toEqual([serveNbdPid]);
    expect(mountIdsUnder(path.join(root, 'lazy'))).toEqual(chainMounts);

    proxy!.reset();
    expect(await sha256In(FIRST, 'while-down', files[1]!.path)).toBe(files[1]!.sha256);
    const fetchedWhileDown = fetchedSinceReset();
    process.stdout.write(`daemon: ${files[1]!.path} (${files[1]!.size} bytes) read while the snapshotter was down: ${fetchedWhileDown} compressed bytes fetched\n`);
    expect(fetchedWhileDown).toBeGreaterThan(0);

    // The same config again: the stale socket is replaced, the state reloads from metadata.db and lazy.db.
    daemon = await startSnapshotterDaemon(['--config', configFile], logFile);
    // containerd answers with the last dial error until its backoff redials the plugin: retry until then.
    const listed = await untilAnswered(() => c.ctr(['snapshots', '--snapshotter', 'turbo', 'ls'], 20_000));
    expect(listed).toContain(FIRST);
    expect(listed).toMatch(/Committed/);
    expect(await c.ctr(['snapshots', '--snapshotter', 'turbo', 'usage'])).toContain(FIRST);

    await c.ctr(['run', '-d', '--snapshotter', 'turbo', proxyRef, SECOND, 'sh', '-c', 'while true; do sleep 1; done']);
    expect(await sha256In(SECOND, 'second-read', files[2]!.path)).toBe(files[2]!.sha256);
    expect(await sha256In(SECOND, 'second-again', files[1]!.path)).toBe(files[1]!.sha256);
    expect(await c.ctr(['tasks', 'exec', '--exec-id', 'after-restart', FIRST, 'cat', '/etc/os-release'])).toBe(osRelease.toString());
    // Re-adopted, not mounted again: the same serve-nbd daemon and the same mounts under <root>/lazy.
    expect(processesMentioning('serve-nbd', dir)).toEqual([serveNbdPid]);
    expect(mountIdsUnder(path.join(root, 'lazy'))).toEqual(chainMounts);
  }, 180_000);

  /** What is left under the temp dir: mounts, serve-nbd and nbdfuse processes. */
  const leftovers = () => ({ mounts: mountsUnder(dir), serveNbd: processesMentioning('serve-nbd', dir), nbdfuse: processesMentioning('nbdfuse', dir) });

  /**
   * Collects containerd's garbage until nothing is left under the temp dir (at most 30 rounds; waiting alone is not
   * enough, see Containerd.gc); returns what is left.
   */
  async function settled(): Promise<ReturnType<typeof leftovers>> {
    await containerd!.collectUntil(() => {
      const left = leftovers();
      return left.mounts.length + left.serveNbd.length + left.nbdfuse.length === 0;
    });
    return leftovers();
  }

  it('removing both containers: containerd\'s GC removes their snapshots through the restarted daemon, which tears the chain mount down', async () => {
    const c = containerd!;
    expect(serveNbdPid).toBeGreaterThan(0);
    for (const id of [FIRST, SECOND]) {
      await c.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
      await c.ctr(['tasks', 'delete', '-f', id]);
      await c.ctr(['containers', 'rm', id]);
    }
    // containerd's GC calls our Remove after the containers' snapshots are gone from its metadata.
    expect(await settled()).toEqual({ mounts: [], serveNbd: [], nbdfuse: [] });
    // The image's committed lazy snapshot stays (the image still references it); no active snapshot is left.
    const listed = await c.ctr(['snapshots', '--snapshotter', 'turbo', 'ls']);
    expect(listed).toMatch(/Committed/);
    expect(listed).not.toMatch(/Active/);
    // The daemon stops cleanly on SIGTERM; its log has nothing but the two starts and the shutdown.
    expect(await daemon!.stop()).toBe(0);
    daemon = undefined;
    const log = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(log.map((l) => /^turbo-snapshotter: (serving|SIGTERM, shutting down)/.exec(l)?.[1])).toEqual(['serving', 'serving', 'SIGTERM, shutting down']);
  }, 180_000);

  /**
   * Restarts the daemon with one helper held at a gate file, starts container `id` and SIGKILLs the daemon while its
   * Prepare is in the middle of the chain mount, then opens the gate and restarts the daemon normally. Stage 'nbdfuse':
   * an nbdfuse on the daemon's PATH waits (serve-nbd up, mount state recorded); the orphaned nbdfuse then serves its FUSE
   * file. Stage 'serve-nbd': a module preloaded through NODE_OPTIONS holds serve-nbd before it listens (no mount state,
   * no record); the orphaned serve-nbd then listens and writes its pid file. Returns the orphaned pids.
   */
  async function crashMidMount(id: string, stage: 'nbdfuse' | 'serve-nbd'): Promise<{ server: number; fuse: number | undefined }> {
    const c = containerd!;
    const binDir = path.join(dir, `bin-${id}`);
    const gate = path.join(binDir, 'gate');
    mkdirSync(binDir, { recursive: true });
    const env: Record<string, string> = {};
    if (stage === 'nbdfuse') {
      const realNbdfuse = execFileSync('sh', ['-c', 'command -v nbdfuse'], { encoding: 'utf8' }).trim();
      writeFileSync(path.join(binDir, 'nbdfuse'), `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.1; done\nexec '${realNbdfuse}' "$@"\n`, { mode: 0o755 });
      env.PATH = `${binDir}:${process.env.PATH ?? ''}`;
    } else {
      const hold = path.join(binDir, 'hold-serve-nbd.mjs');
      writeFileSync(hold, `import { existsSync } from 'node:fs';\nif (process.argv.includes('serve-nbd')) while (!existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 100));\n`);
      env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${hold}`.trim();
    }
    if (daemon) await daemon.stop();
    daemon = await startSnapshotterDaemon(['--config', configFile], logFile, { env });
    await untilAnswered(() => c.ctr(['snapshots', '--snapshotter', 'turbo', 'usage'], 20_000));
    const run = c.ctr(['run', '-d', '--snapshotter', 'turbo', proxyRef, id, 'sh', '-c', 'while true; do sleep 1; done']).then(
      () => 'started',
      (e: Error) => e.message,
    );
    const caught = () => processesMentioning(stage, dir).length > 0;
    for (let i = 0; i < 600 && !caught(); i++) await sleep(100);
    const servers = processesMentioning('serve-nbd', dir);
    const fuses = processesMentioning('nbdfuse', dir);
    expect(servers.length).toBe(1);
    expect(fuses.length).toBe(stage === 'nbdfuse' ? 1 : 0);
    await daemon.kill();
    expect(await run).toMatch(/unavailable|connection|closing/i);
    await c.ctr(['containers', 'rm', id]).catch(() => undefined);
    writeFileSync(gate, '');
    const lazyDir = path.join(root, 'lazy');
    const pidFiles = () => readdirSync(lazyDir).filter((d) => existsSync(path.join(lazyDir, d, 'serve-nbd.pid')));
    const orphanReady = () => (stage === 'nbdfuse' ? mountsUnder(lazyDir).length > 0 : pidFiles().length > 0);
    for (let i = 0; i < 300 && !orphanReady(); i++) await sleep(100);
    expect(mountsUnder(lazyDir).length).toBe(stage === 'nbdfuse' ? 1 : 0);
    expect(pidFiles().length).toBe(1);
    expect(processesMentioning('serve-nbd', dir)).toEqual(servers);
    daemon = await startSnapshotterDaemon(['--config', configFile], logFile);
    await untilAnswered(() => c.ctr(['snapshots', '--snapshotter', 'turbo', 'usage'], 20_000));
    return { server: servers[0]!, fuse: fuses[0] };
  }

  /** Runs container `id` of the image, checks a file byte-exact and that the orphaned processes are gone, then removes it. */
  async function runAfterCrash(id: string, held: { server: number; fuse: number | undefined }): Promise<void> {
    const c = containerd!;
    await c.ctr(['run', '-d', '--snapshotter', 'turbo', proxyRef, id, 'sh', '-c', 'while true; do sleep 1; done']);
    expect(await sha256In(id, 'after-crash', files[0]!.path)).toBe(files[0]!.sha256);
    // One new serve-nbd and nbdfuse; the half-made mount's processes are gone.
    const servers = processesMentioning('serve-nbd', dir);
    const fuses = processesMentioning('nbdfuse', dir);
    expect(servers.length).toBe(1);
    expect(servers).not.toContain(held.server);
    expect(fuses.length).toBe(1);
    if (held.fuse !== undefined) expect(fuses).not.toContain(held.fuse);
    await c.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
    await c.ctr(['tasks', 'delete', '-f', id]);
    await c.ctr(['containers', 'rm', id]);
    expect(await settled()).toEqual({ mounts: [], serveNbd: [], nbdfuse: [] });
  }

  it('a crash in the middle of a chain mount (nbdfuse starting): containerd\'s GC (Cleanup) clears the half-made mount, its serve-nbd and nbdfuse', async () => {
    const c = containerd!;
    await crashMidMount(CAUGHT, 'nbdfuse');
    // A removal marks the snapshotter for containerd's next GC, which ends with Cleanup.
    await c.ctr(['snapshots', '--snapshotter', 'turbo', 'prepare', 'gc-trigger']);
    await c.ctr(['snapshots', '--snapshotter', 'turbo', 'rm', 'gc-trigger']);
    expect(await settled()).toEqual({ mounts: [], serveNbd: [], nbdfuse: [] });
  }, 180_000);

  it('a crash in the middle of a chain mount (nbdfuse starting): the next container of the image clears the half-made mount and mounts the chain again', async () => {
    await runAfterCrash(AFTER_CRASH, await crashMidMount(CAUGHT_AGAIN, 'nbdfuse'));
  }, 180_000);

  it('a crash while serve-nbd starts (nothing recorded but its pid file): the next container stops the orphaned daemon and mounts the chain', async () => {
    await runAfterCrash(AFTER_EARLY_CRASH, await crashMidMount(CAUGHT_EARLY, 'serve-nbd'));
  }, 180_000);
});
