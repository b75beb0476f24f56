// The `turbo-index serve-nbd` daemon that backs a mount: started detached (own session) so it outlives its starter.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

import { SERVE_NBD_READY_TIMEOUT_MS } from '../defaults.js';
import { ImageError } from '../errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The daemon's pid file, in its work directory. */
const PID_FILE = 'serve-nbd.pid';

/** How to start the daemon: `command… serve-nbd <imageRef> --socket <socket> --pid-file <workDir>/serve-nbd.pid …extraArgs`. */
export interface ServeNbdDaemonSpec {
  /** argv prefix that runs turbo-index, e.g. [process.execPath, '<dist>/src/cli/main.js']. */
  command: string[];
  imageRef: string;
  /** Directory for the pid file and the daemon's log. */
  workDir: string;
  /** Unix socket the daemon listens on. */
  socket: string;
  /** Extra serve-nbd flags (cache, registry and metrics options). */
  extraArgs?: string[];
}

/** True while `pid` runs a turbo-index serve-nbd (guards against a recycled pid). */
export function isServeNbdProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('serve-nbd');
  } catch {
    return false;
  }
}

/** Pid in `<workDir>/serve-nbd.pid` (written by the daemon once it listens, removed when it exits), or undefined. */
export function serveNbdPidOf(workDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(workDir, PID_FILE), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM to a serve-nbd daemon, SIGKILL if it has not exited after 10 s; a no-op for other or absent pids. */
export async function stopServeNbdDaemon(pid: number | null | undefined): Promise<void> {
  if (pid === null || pid === undefined || !isServeNbdProcess(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && isServeNbdProcess(pid); i++) await sleep(100);
  if (isServeNbdProcess(pid)) process.kill(pid, 'SIGKILL');
}

/** Starts the daemon and waits until it has written its pid file (its socket listens); resolves to its pid. */
export async function startServeNbdDaemon(spec: ServeNbdDaemonSpec): Promise<number> {
  const pidFile = path.join(spec.workDir, PID_FILE);
  const log = path.join(spec.workDir, 'serve-nbd.log');
  rmSync(pidFile, { force: true });
  rmSync(spec.socket, { force: true });
  const fd = openSync(log, 'a');
  const [exe, ...pre] = spec.command;
  const args = [...pre, 'serve-nbd', spec.imageRef, '--socket', spec.socket, '--pid-file', pidFile, ...(spec.extraArgs ?? [])];
  const child = spawn(exe!, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + SERVE_NBD_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      throw new ImageError('UNAVAILABLE', `the NBD server of ${spec.imageRef} exited (status ${String(exited)}): ${tail}`, { details: { log } });
    }
    if (existsSync(pidFile)) return child.pid!;
    await sleep(50);
  }
  await stopServeNbdDaemon(child.pid);
  throw new ImageError('TIMEOUT', `the NBD server of ${spec.imageRef} did not start within ${SERVE_NBD_READY_TIMEOUT_MS} ms`, { details: { log } });
}
