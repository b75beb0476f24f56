// Shared read-only mounts of indexed images (needs root): one serve-nbd daemon + nbdfuse/loop (or kernel nbd) + ext4 per (index digest, chain position k: deltas 0..k), refcounted.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';

import { ImageError } from '../errors.js';
import { loadMountState } from '../mount/mount-state.js';
import { mountsUsing } from '../mount/mount-table.js';
import { isServeNbdProcess, serveNbdPidOf, startServeNbdDaemon, stopServeNbdDaemon } from '../mount/serve-nbd-daemon.js';
import { attacherFor, mountNbdExport, teardownMount } from '../mount/nbd-mount.js';
import { nbdUri } from '../nbd/nbd-server.js';
import type { LazyCatalog } from './lazy-catalog.js';
import type { LazyLayer } from './lazy-layer.js';

/** How the snapshotter starts the NBD server daemon: `command... serve-nbd <image-ref> --socket <s> --pid-file <f> ...extraArgs`. */
export interface ServeNbdLauncher {
  /** argv prefix running turbo-index, e.g. [process.execPath, '<dist>/src/cli/main.js']. */
  command: string[];
  /** Extra serve-nbd flags (e.g. --cache-dir, --plain-http). */
  extraArgs?: string[];
}

/** The chain mounts of one snapshotter root (<root>/lazy/<id>/{mnt,state,nbd.sock}), recorded in the lazy catalog database. */
export class ChainMounts {
  private readonly pending = new Map<string, Promise<string>>();
  /** Chains this process mounted ahead of use and nobody has used yet, with the timer that drops them when idle. */
  private readonly ahead = new Map<string, NodeJS.Timeout>();
  /** Teardowns in progress: a new mount of the same chain waits for them. */
  private readonly tearing = new Map<string, Promise<void>>();

  constructor(
    private readonly lazyDir: string,
    private readonly catalog: LazyCatalog,
    private readonly launcher: ServeNbdLauncher | undefined,
  ) {}

  /** Key of the mount serving chain position `layer.layerIndex` of `layer.indexDigest`. */
  static keyOf(layer: LazyLayer): string {
    return `${layer.indexDigest}/${layer.layerIndex}`;
  }

  private workDir(mountKey: string): string {
    return path.join(this.lazyDir, createHash('sha256').update(mountKey).digest('hex').slice(0, 16));
  }

  /** Mount point of `layer`'s chain (mounted or not). */
  mountPoint(layer: LazyLayer): string {
    return path.join(this.workDir(ChainMounts.keyOf(layer)), 'mnt');
  }

  /** Makes sure `layer`'s chain is mounted (once; concurrent callers share the work), records `snapshotId` as a user, returns the mount point. */
  async acquire(layer: LazyLayer, snapshotId: number): Promise<string> {
    const key = ChainMounts.keyOf(layer);
    const dir = await this.start(layer);
    this.catalog.addUser(snapshotId, key);
    clearTimeout(this.ahead.get(key));
    this.ahead.delete(key);
    return dir;
  }

  /** The running (or a new) mount of `layer`'s chain, shared by concurrent callers. */
  private start(layer: LazyLayer): Promise<string> {
    const key = ChainMounts.keyOf(layer);
    let p = this.pending.get(key);
    if (!p) {
      const tearing = this.tearing.get(key);
      p = (tearing ? tearing.catch(() => undefined).then(() => this.ensure(layer)) : this.ensure(layer)).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /**
   * Starts mounting the chain of an image's top layer before anyone asks for it (called at the lazy Prepare), so the
   * first container does not wait for the daemon's start-up, the index and the mount. Unused, it is torn down after
   * `idleMs` (0: never mount ahead). Failures are dropped here: the first Mounts tries again and reports them.
   */
  mountAhead(layer: LazyLayer, idleMs: number): void {
    if (!this.launcher || idleMs <= 0 || process.getuid?.() !== 0 || layer.layerIndex !== layer.layerCount - 1) return;
    const key = ChainMounts.keyOf(layer);
    if (this.pending.has(key) || this.catalog.findMount(key)) return;
    this.start(layer).then(
      () => {
        if (this.catalog.users(key) > 0) return;
        clearTimeout(this.ahead.get(key));
        this.ahead.set(key, setTimeout(() => void this.dropUnusedAhead(key), idleMs).unref());
      },
      () => undefined,
    );
  }

  /** Tears down chain `key` mounted ahead when still nobody uses it. */
  private async dropUnusedAhead(key: string): Promise<void> {
    if (!this.ahead.delete(key) || this.catalog.users(key) > 0 || this.pending.has(key)) return;
    await this.teardown(key).catch(() => undefined);
  }

  private async ensure(layer: LazyLayer): Promise<string> {
    const key = ChainMounts.keyOf(layer);
    const known = this.catalog.findMount(key);
    const workDir = this.workDir(key);
    const stateDir = path.join(workDir, 'state');
    const dir = path.join(workDir, 'mnt');
    // Re-adopt a mount made before a restart when its record and its server are still there.
    if (known && (await loadMountState(stateDir, dir))?.mounted && known.serverPid !== null && isServeNbdProcess(known.serverPid)) return dir;
    // Anything else there goes first: a stale record, or a mount half made when a snapshotter crashed during it (mount
    // state, nbdfuse, serve-nbd without a record), which would otherwise block this chain for good.
    await this.teardown(key);
    if (!this.launcher) throw new ImageError('FAILED_PRECONDITION', 'this snapshotter has no serve-nbd launcher configured for lazy layers', { details: { index: layer.indexDigest } });
    if (process.getuid?.() !== 0) throw new ImageError('PERMISSION_DENIED', 'mounting lazy layers needs root (loop devices, FUSE and mount(2))');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const socket = path.join(workDir, 'nbd.sock');
    const pid = await this.startServer(layer, workDir, socket);
    try {
      const kernelNbd = readdirSync('/dev').some((n) => /^nbd\d+$/.test(n));
      await mountNbdExport(nbdUri({ kind: 'unix', socketPath: socket }, ''), dir, { stateDir, serverPid: pid, attacher: attacherFor(kernelNbd ? 'kernel-nbd' : 'nbdfuse-loop') });
    } catch (err) {
      await stopServeNbdDaemon(pid);
      throw err;
    }
    this.catalog.addMount({ mountKey: key, imageRef: layer.imageRef, indexDigest: layer.indexDigest, layerIndex: layer.layerIndex, dir, serverPid: pid });
    return dir;
  }

  /** Starts serve-nbd for `layer`'s chain with its recorded index: the whole image for its top layer, else `--layers <k+1>` (deltas 0..k only). */
  private startServer(layer: LazyLayer, workDir: string, socket: string): Promise<number> {
    const launcher = this.launcher!;
    const prefix = layer.layerIndex < layer.layerCount - 1 ? ['--layers', String(layer.layerIndex + 1)] : [];
    // The index recorded for this chain, by digest: no referrers lookup, and a later index cannot change what it serves.
    const extraArgs = [...(launcher.extraArgs ?? []), `--index-digest=${layer.indexDigest}`, ...prefix];
    return startServeNbdDaemon({ command: launcher.command, imageRef: layer.imageRef, workDir, socket, extraArgs });
  }

  /**
   * Drops `snapshotId`'s use; tears the chain mount down when nobody uses it any more. A chain that some mount still
   * uses (a container's overlay not yet unmounted, a bind) is left mounted for a later Cleanup instead.
   */
  async release(snapshotId: number): Promise<void> {
    const key = this.catalog.removeUser(snapshotId);
    if (key !== undefined && this.catalog.users(key) === 0) await this.teardown(key).catch(skipInUse);
  }

  /** Drops users whose snapshot is gone (`live` = existing snapshot ids) and tears down every unused chain mount. */
  async releaseUnused(live: Set<number>): Promise<void> {
    // Mounts being made finish first, so what they leave is seen below.
    await Promise.allSettled([...this.pending.values()]);
    for (const id of this.catalog.userIds()) if (!live.has(id)) this.catalog.removeUser(id);
    // Chains mounted ahead stay until their idle timer: containerd runs Cleanup after collections, also right after a pull.
    for (const m of this.catalog.allMounts()) if (this.catalog.users(m.mountKey) === 0 && !this.ahead.has(m.mountKey)) await this.teardown(m.mountKey).catch(skipInUse);
    // Work directories without a record (nor a mount being made now): mounts half made when a snapshotter crashed.
    const kept = new Set([...this.catalog.allMounts().map((m) => m.mountKey), ...this.pending.keys()].map((k) => this.workDir(k)));
    const orphans = (existsSync(this.lazyDir) ? readdirSync(this.lazyDir) : []).map((n) => path.join(this.lazyDir, n)).filter((d) => !kept.has(d));
    for (const workDir of orphans) await this.teardownWorkDir(workDir).catch(skipInUse);
  }

  /** Waits for mounts being made; tears down the chains mounted ahead that nobody used (used chains stay: restart safety). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
    const unused = [...this.ahead.keys()];
    for (const key of unused) await this.dropUnusedAhead(key);
  }

  /** Unmounts, detaches, stops the server and forgets the record; each step tolerates a missing part. */
  private teardown(mountKey: string): Promise<void> {
    clearTimeout(this.ahead.get(mountKey));
    this.ahead.delete(mountKey);
    const p = this.teardownRecorded(mountKey).finally(() => this.tearing.delete(mountKey));
    this.tearing.set(mountKey, p);
    return p;
  }

  private async teardownRecorded(mountKey: string): Promise<void> {
    await this.teardownWorkDir(this.workDir(mountKey), this.catalog.findMount(mountKey)?.serverPid);
    this.catalog.deleteMount(mountKey);
  }

  /** Tears down what `workDir` holds (mount state, device, the serve-nbd daemons recorded or in its pid file) and removes it. */
  private async teardownWorkDir(workDir: string, recordedPid?: number | null): Promise<void> {
    const stateDir = path.join(workDir, 'state');
    const mnt = path.join(workDir, 'mnt');
    // Unmounting (lazily, at worst) a filesystem that an overlay still stacks on would pull a running container's files away.
    const users = await mountsUsing(mnt);
    if (users.length > 0) {
      throw new ImageError('FAILED_PRECONDITION', `the chain mount ${mnt} is still used by ${users.length} mount(s)`, {
        details: { mountPoint: mnt, usedBy: users.map((u) => u.mountPoint).join(' ') },
        hint: 'unmount the containers using it first; Cleanup tears it down afterwards',
      });
    }
    const state = await loadMountState(stateDir, mnt).catch(() => undefined);
    if (state) await teardownMount(state, { stateDir });
    for (const pid of new Set([recordedPid, state?.serverPid, serveNbdPidOf(workDir)])) await stopServeNbdDaemon(pid);
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Swallows the "still in use" refusal of a teardown (retried by the next Cleanup); anything else propagates. */
function skipInUse(err: unknown): void {
  if (!(err instanceof ImageError && err.code === 'FAILED_PRECONDITION' && err.details?.usedBy !== undefined)) throw err;
}
