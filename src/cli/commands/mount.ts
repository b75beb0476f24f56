// `turbo-index mount <image-ref> <dir>` and `turbo-index umount <dir>`: a serve-nbd daemon, attached and mounted ext4 read-only.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';

import { DEFAULT_MOUNT_STATE_DIR, SERVE_NBD_READY_TIMEOUT_MS } from '../../defaults.js';
import { ImageError } from '../../errors.js';
import { nbdUri } from '../../nbd/nbd-server.js';
import { loadMountState, mountWorkDir } from '../../mount/mount-state.js';
import { attacherFor, mountNbdExport, unmountNbdExport } from '../../mount/nbd-mount.js';
import { forwardedImageArgs, withImageDeviceOptions, type ImageDeviceArgs } from './image-device-options.js';
import { writeOut } from './output.js';

interface MountArgs extends ImageDeviceArgs {
  dir: string;
  'state-dir': string;
  'metrics-address'?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new ImageError('PERMISSION_DENIED', 'mounting needs root (loop devices, FUSE and mount(2))', { hint: 'run as root, or read files without a mount: turbo-index ls/cat/stat' });
}

/** True while `pid` runs a turbo-index serve-nbd (guards against a recycled pid). */
function isServeProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('serve-nbd');
  } catch {
    return false;
  }
}

/** SIGTERM to the recorded server, SIGKILL if it has not exited after 10 s. */
async function stopServer(pid: number): Promise<void> {
  if (!isServeProcess(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && isServeProcess(pid); i++) await sleep(100);
  if (isServeProcess(pid)) process.kill(pid, 'SIGKILL');
}

/** Starts `turbo-index serve-nbd` detached (own session) and waits until its socket listens; returns its pid. */
async function startDaemon(argv: MountArgs, workDir: string, socket: string): Promise<number> {
  mkdirSync(workDir, { recursive: true });
  const log = path.join(workDir, 'serve-nbd.log');
  const fd = openSync(log, 'a');
  const args = [process.argv[1]!, 'serve-nbd', argv['image-ref'], '--socket', socket, '--pid-file', path.join(workDir, 'serve-nbd.pid'), ...forwardedImageArgs(argv)];
  if (argv['metrics-address']) args.push(`--metrics-address=${argv['metrics-address']}`);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + SERVE_NBD_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      throw new ImageError('UNAVAILABLE', `the NBD server exited (status ${String(exited)}): ${tail}`, { details: { log } });
    }
    if (existsSync(path.join(workDir, 'serve-nbd.pid'))) return child.pid!;
    await sleep(50);
  }
  await stopServer(child.pid!);
  throw new ImageError('TIMEOUT', `the NBD server did not start within ${SERVE_NBD_READY_TIMEOUT_MS} ms`, { details: { log } });
}

/** `turbo-index mount`. */
export const mountCommand: CommandModule<object, MountArgs> = {
  command: 'mount <image-ref> <dir>',
  describe: 'mount an indexed image read-only at <dir> (root): NBD server daemon + nbdfuse/losetup (or kernel nbd) + ext4',
  builder: (y) =>
    withImageDeviceOptions(y)
      .positional('dir', { type: 'string', demandOption: true, describe: 'mount point (created if missing)' })
      .option('state-dir', { type: 'string', default: DEFAULT_MOUNT_STATE_DIR, describe: 'where mount records live' })
      .option('metrics-address', { type: 'string', describe: 'the server daemon serves Prometheus metrics at http://<host:port>/metrics' }) as never,
  handler: async (argv) => {
    requireRoot();
    const target = path.resolve(argv.dir);
    if (await loadMountState(argv['state-dir'], target)) throw new ImageError('ALREADY_EXISTS', 'a mount is recorded at this mount point', { details: { mountPoint: target }, hint: 'turbo-index umount it first' });
    const workDir = mountWorkDir(argv['state-dir'], target);
    const socket = path.join(workDir, 'nbd.sock');
    const pid = await startDaemon(argv, workDir, socket);
    const kernelNbd = existsSync('/dev') && readdirSync('/dev').some((n) => /^nbd\d+$/.test(n));
    try {
      const state = await mountNbdExport(nbdUri({ kind: 'unix', socketPath: socket }, ''), target, { stateDir: argv['state-dir'], serverPid: pid, attacher: attacherFor(kernelNbd ? 'kernel-nbd' : 'nbdfuse-loop') });
      await writeOut(`mounted ${argv['image-ref']} at ${target} (${state.attach.kind} ${state.attach.device ?? ''}, server pid ${pid})\n`);
    } catch (err) {
      await stopServer(pid);
      throw err;
    }
  },
};

/** `turbo-index umount`. */
export const umountCommand: CommandModule<object, { dir: string; 'state-dir': string }> = {
  command: 'umount <dir>',
  describe: 'unmount what turbo-index mount mounted at <dir>: filesystem, device, FUSE, NBD server (root)',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'mount point' })
      .option('state-dir', { type: 'string', default: DEFAULT_MOUNT_STATE_DIR, describe: 'where mount records live' }) as never,
  handler: async (argv) => {
    requireRoot();
    const state = await unmountNbdExport(argv.dir, { stateDir: argv['state-dir'] });
    if (state.serverPid !== undefined) await stopServer(state.serverPid);
    await writeOut(`unmounted ${state.mountPoint}\n`);
  },
};
