// `turbo-index mount <image-ref> <dir>` and `turbo-index umount <dir>`: a serve-nbd daemon, attached and mounted ext4 read-only.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';

import { DEFAULT_MOUNT_STATE_DIR } from '../../defaults.js';
import { ImageError } from '../../errors.js';
import { nbdUri } from '../../nbd/nbd-server.js';
import { loadMountState, mountWorkDir } from '../../mount/mount-state.js';
import { startServeNbdDaemon, stopServeNbdDaemon } from '../../mount/serve-nbd-daemon.js';
import { attacherFor, mountNbdExport, unmountNbdExport } from '../../mount/nbd-mount.js';
import { forwardedImageArgs, withImageDeviceOptions, type ImageDeviceArgs } from './image-device-options.js';
import { writeOut } from './output.js';

interface MountArgs extends ImageDeviceArgs {
  dir: string;
  'state-dir': string;
  'metrics-address'?: string;
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new ImageError('PERMISSION_DENIED', 'mounting needs root (loop devices, FUSE and mount(2))', { hint: 'run as root, or read files without a mount: turbo-index ls/cat/stat' });
}

/** Starts `turbo-index serve-nbd` for this mount as a detached daemon; returns its pid. */
function startDaemon(argv: MountArgs, workDir: string, socket: string): Promise<number> {
  mkdirSync(workDir, { recursive: true });
  const extraArgs = forwardedImageArgs(argv);
  if (argv['metrics-address']) extraArgs.push(`--metrics-address=${argv['metrics-address']}`);
  return startServeNbdDaemon({ command: [process.execPath, process.argv[1]!], imageRef: argv['image-ref'], workDir, socket, extraArgs });
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
      await stopServeNbdDaemon(pid);
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
    if (state.serverPid !== undefined) await stopServeNbdDaemon(state.serverPid);
    await writeOut(`unmounted ${state.mountPoint}\n`);
  },
};
