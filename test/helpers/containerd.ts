// A throwaway containerd 1.6 (Debian package) with root, state and sockets in a temp dir and a proxy snapshotter `turbo`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { mountsUnder } from './mount-points.js';

export { mountsUnder } from './mount-points.js';

const execFileAsync = promisify(execFile);

/** A running containerd. */
export interface Containerd {
  /** Its gRPC socket (`ctr -a`). */
  address: string;
  dir: string;
  logFile: string;
  /** Runs `ctr -a <address> <args>` and returns stdout; rejects with stderr on failure. */
  ctr(args: string[], timeoutMs?: number): Promise<string>;
  /**
   * Runs containerd's garbage collection now and waits for it (a throwaway lease deleted with `--sync`). containerd 1.6's
   * GC scheduler can skip a removal that commits while a collection is still running the snapshotters' cleanups (our
   * Remove tearing a chain mount down takes a few hundred ms), so a test that only waits for it may wait forever.
   */
  gc(): Promise<void>;
  /** Until `done()` holds: check, collect garbage, sleep 200 ms; at most `rounds` rounds. Resolves with the last `done()`. */
  collectUntil(done: () => boolean | Promise<boolean>, rounds?: number): Promise<boolean>;
  /** Kills tasks, removes containers, stops containerd, unmounts everything under its dir and removes it. */
  stop(): Promise<void>;
}

/** Options: the unix socket of the proxy snapshotter and registries (`host:port`) reachable over plain HTTP. */
export interface ContainerdOptions {
  snapshotterSocket: string;
  plainHttpRegistries?: string[];
}

function config(dir: string, snapshotterSocket: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  address = "${dir}/debug.sock"
[proxy_plugins]
  [proxy_plugins.turbo]
    type = "snapshot"
    address = "${snapshotterSocket}"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${dir}/opt"
`;
}

/** Starts containerd with the `turbo` proxy snapshotter at `options.snapshotterSocket`; resolves once it answers. */
export async function startContainerd(options: ContainerdOptions): Promise<Containerd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'turbo-oci-ctrd-'));
  writeFileSync(path.join(dir, 'config.toml'), config(dir, options.snapshotterSocket));
  for (const host of options.plainHttpRegistries ?? []) {
    mkdirSync(path.join(dir, 'certs.d', host), { recursive: true });
    writeFileSync(path.join(dir, 'certs.d', host, 'hosts.toml'), `server = "http://${host}"\n[host."http://${host}"]\n  capabilities = ["pull", "resolve", "push"]\n  skip_verify = true\n`);
  }
  const address = path.join(dir, 'containerd.sock');
  const logFile = path.join(dir, 'containerd.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn('containerd', ['--config', path.join(dir, 'config.toml')], { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const ctr = async (args: string[], timeoutMs = 120_000) => {
    try {
      const { stdout } = await execFileAsync('ctr', ['-a', address, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`ctr ${args.join(' ')} failed: ${e.stderr || e.message}`);
    }
  };
  const stop = async () => {
    if (!exited) {
      try {
        const tasks = (await ctr(['tasks', 'ls', '-q'], 20_000)).split('\n').filter(Boolean);
        for (const t of tasks) {
          await ctr(['tasks', 'kill', '-s', 'SIGKILL', t], 20_000).catch(() => undefined);
          await ctr(['tasks', 'delete', '-f', t], 20_000).catch(() => undefined);
        }
        for (const c of (await ctr(['containers', 'ls', '-q'], 20_000)).split('\n').filter(Boolean)) await ctr(['containers', 'rm', c], 20_000).catch(() => undefined);
      } catch {
        // containerd is not answering: fall through to killing it.
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    }
    for (const m of mountsUnder(dir)) await execFileAsync('umount', ['-l', m]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  let leases = 0;
  const gc = async () => {
    const id = `turbo-test-gc-${process.pid}-${++leases}`;
    await ctr(['leases', 'create', '--id', id]);
    await ctr(['leases', 'rm', '--sync', id]);
  };
  const collectUntil = async (done: () => boolean | Promise<boolean>, rounds = 30) => {
    for (let round = 0; round < rounds; round++) {
      if (await done()) return true;
      await gc();
      await new Promise((r) => setTimeout(r, 200));
    }
    return done();
  };
  try {
    for (let i = 0; ; i++) {
      if (exited) throw new Error(`containerd exited at start: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (existsSync(address) && (await ctr(['version'], 5000).then(() => true, () => false))) break;
      if (i > 300) throw new Error('containerd did not answer within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, dir, logFile, ctr, gc, collectUntil, stop };
}

/**
 * Retries `call` until it succeeds (at most `attempts` tries, `delayMs` apart; rethrows the last error): containerd
 * answers with the last dial error until its gRPC backoff redials a restarted proxy snapshotter plugin.
 */
export async function untilAnswered<T>(call: () => Promise<T>, attempts = 60, delayMs = 500): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
