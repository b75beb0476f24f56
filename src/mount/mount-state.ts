// Mount state records: one JSON file per mount point in a state directory, so a later process can find and tear down a mount.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ImageError } from '../errors.js';
import type { AttachState } from './attacher.js';

/** Version of the record layout; bump when fields change meaning. */
export const MOUNT_STATE_VERSION = 1;

/** Everything needed to tear a mount down (and, later, to re-attach it). */
export interface MountState {
  version: number;
  /** Absolute mount point. */
  mountPoint: string;
  /** The NBD export mounted. */
  nbdUri: string;
  /** Steps done by the attacher (device, FUSE dir, nbdfuse pid...). */
  attach: AttachState;
  /** True once the filesystem is mounted. */
  mounted: boolean;
  /** Pid of the process serving the NBD export, when a daemon does (for later `umount` of a `mount`ed image). */
  serverPid?: number;
  createdAt: string;
}

/** Stable id of a mount point: the first 16 hex digits of its sha256. */
export function mountId(mountPoint: string): string {
  return createHash('sha256').update(path.resolve(mountPoint)).digest('hex').slice(0, 16);
}

/** The state record file of `mountPoint`. */
export function mountStatePath(stateDir: string, mountPoint: string): string {
  return path.join(stateDir, `${mountId(mountPoint)}.json`);
}

/** The private working directory of `mountPoint` (FUSE dir, pid and log files). */
export function mountWorkDir(stateDir: string, mountPoint: string): string {
  return path.join(stateDir, mountId(mountPoint));
}

/** Writes the record atomically (temp file + rename). */
export async function saveMountState(stateDir: string, state: MountState): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = mountStatePath(stateDir, state.mountPoint);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** The record of `mountPoint`, or undefined when there is none; CORRUPT when it cannot be parsed. */
export async function loadMountState(stateDir: string, mountPoint: string): Promise<MountState | undefined> {
  const file = mountStatePath(stateDir, mountPoint);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ImageError('UNAVAILABLE', `cannot read mount state ${file}`, { cause: err });
  }
  let state: MountState;
  try {
    state = JSON.parse(text) as MountState;
  } catch (err) {
    throw new ImageError('CORRUPT', 'mount state is not JSON', { details: { file }, cause: err });
  }
  if (state.version !== MOUNT_STATE_VERSION || typeof state.mountPoint !== 'string' || typeof state.attach?.kind !== 'string') {
    throw new ImageError('UNSUPPORTED', 'unknown mount state layout', { details: { file, version: state.version } });
  }
  return state;
}

/** All records in `stateDir` (unreadable ones skipped). */
export async function listMountStates(stateDir: string): Promise<MountState[]> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch {
    return [];
  }
  const out: MountState[] = [];
  for (const n of names.filter((n) => n.endsWith('.json'))) {
    try {
      const s = JSON.parse(await readFile(path.join(stateDir, n), 'utf8')) as MountState;
      if (s.version === MOUNT_STATE_VERSION) out.push(s);
    } catch {
      // skip
    }
  }
  return out;
}

/** Removes the record and working directory of `mountPoint`. */
export async function removeMountState(stateDir: string, mountPoint: string): Promise<void> {
  await rm(mountStatePath(stateDir, mountPoint), { force: true });
  await rm(mountWorkDir(stateDir, mountPoint), { recursive: true, force: true });
}
