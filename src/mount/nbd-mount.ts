// Mounts an NBD export's ext4 filesystem read-only (attach, mount -o ro,noload) and tears it down from any partial state.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { DEFAULT_MOUNT_STATE_DIR } from '../defaults.js';
import { ImageError, toImageError } from '../errors.js';
import type { Attacher, AttachKind } from './attacher.js';
import { runCommand } from './command-runner.js';
import { KernelNbdAttacher } from './kernel-nbd-attacher.js';
import { MOUNT_STATE_VERSION, loadMountState, mountWorkDir, removeMountState, saveMountState, type MountState } from './mount-state.js';
import { isMountPoint } from './mount-table.js';
import { NbdfuseLoopAttacher } from './nbdfuse-loop-attacher.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The attacher of `kind` (default: the one that works on this machine, nbdfuse + loop). */
export function attacherFor(kind: AttachKind = 'nbdfuse-loop'): Attacher {
  return kind === 'kernel-nbd' ? new KernelNbdAttacher() : new NbdfuseLoopAttacher();
}

/** Options of mountNbdExport. */
export interface NbdMountOptions {
  /** Where records live (default DEFAULT_MOUNT_STATE_DIR). */
  stateDir?: string;
  attacher?: Attacher;
  /** Pid of the NBD server daemon, recorded for a later teardown. */
  serverPid?: number;
}

/** Attaches the export at `nbdUri` and mounts it read-only at `mountPoint`; on failure everything done is undone. */
export async function mountNbdExport(nbdUri: string, mountPoint: string, options: NbdMountOptions = {}): Promise<MountState> {
  const stateDir = options.stateDir ?? DEFAULT_MOUNT_STATE_DIR;
  const attacher = options.attacher ?? attacherFor();
  const target = path.resolve(mountPoint);
  if (await loadMountState(stateDir, target)) {
    throw new ImageError('ALREADY_EXISTS', 'a mount is recorded at this mount point', { details: { mountPoint: target }, hint: 'unmount it first' });
  }
  if (await isMountPoint(target)) throw new ImageError('ALREADY_EXISTS', 'something is mounted there already', { details: { mountPoint: target } });
  await mkdir(target, { recursive: true });
  const state: MountState = {
    version: MOUNT_STATE_VERSION,
    mountPoint: target,
    nbdUri,
    attach: { kind: attacher.kind },
    mounted: false,
    serverPid: options.serverPid,
    createdAt: new Date().toISOString(),
  };
  await saveMountState(stateDir, state);
  try {
    const attached = await attacher.attach(nbdUri, mountWorkDir(stateDir, target), async (a) => {
      state.attach = { ...a };
      await saveMountState(stateDir, state);
    });
    state.attach = attached;
    await saveMountState(stateDir, state);
    await runCommand('mount', ['-t', 'ext4', '-o', 'ro,noload', attached.device, target]);
    state.mounted = true;
    await saveMountState(stateDir, state);
    return state;
  } catch (err) {
    await teardownMount(state, { stateDir, attacher }).catch(() => undefined);
    throw toImageError(err, 'UNAVAILABLE');
  }
}

/** Unmounts the recorded mount at `mountPoint` and detaches its device; NOT_FOUND when nothing is recorded. */
export async function unmountNbdExport(mountPoint: string, options: { stateDir?: string } = {}): Promise<MountState> {
  const stateDir = options.stateDir ?? DEFAULT_MOUNT_STATE_DIR;
  const state = await loadMountState(stateDir, path.resolve(mountPoint));
  if (!state) throw new ImageError('NOT_FOUND', 'no turbo-oci mount is recorded there', { details: { mountPoint, stateDir } });
  await teardownMount(state, { stateDir });
  return state;
}

/**
 * Undoes `state` in reverse: unmount (lazy if busy), detach (loop, FUSE, nbdfuse), forget the record. Each step checks
 * whether its part still exists, so it works after a crash at any point and can be repeated.
 */
export async function teardownMount(state: MountState, options: { stateDir?: string; attacher?: Attacher } = {}): Promise<void> {
  const stateDir = options.stateDir ?? DEFAULT_MOUNT_STATE_DIR;
  const attacher = options.attacher ?? attacherFor(state.attach.kind);
  if (await isMountPoint(state.mountPoint)) {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5 && (await isMountPoint(state.mountPoint)); attempt++) {
      try {
        await runCommand('umount', [state.mountPoint]);
      } catch (err) {
        lastError = err;
        await sleep(100 * (attempt + 1));
      }
    }
    if (await isMountPoint(state.mountPoint)) {
      await runCommand('umount', ['-l', state.mountPoint]).catch(() => {
        throw toImageError(lastError, 'UNAVAILABLE');
      });
    }
  }
  await attacher.detach(state.attach);
  await removeMountState(stateDir, state.mountPoint);
}
