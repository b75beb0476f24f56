// The overlayfs snapshotter: containerd v1.6 snapshots/overlay semantics (snapshots/<id>/fs and work) over the SQLite metadata store.
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_MOUNT_AHEAD_IDLE_MS } from '../defaults.js';
import { ImageError } from '../errors.js';
import { discoverByAnnotations } from './annotation-discovery.js';
import { ChainMounts, type ServeNbdLauncher } from './chain-mounts.js';
import { diskUsage } from './disk-usage.js';
import { LazyCatalog } from './lazy-catalog.js';
import { resolveLazyImage } from './lazy-image-resolver.js';
import { CRI_LABELS, lazyLabels, lazyLayerOf, TARGET_SNAPSHOT_LABEL, type LazyLayer } from './lazy-layer.js';
import { parseReference } from '../format/oci/reference.js';
import { openImageStore } from '../registry/open-store.js';
import { MetadataStore, type SnapshotRecord } from './metadata-store.js';
import { parseSnapshotFilters } from './snapshot-filter.js';
import type { SnapshotInfo, SnapshotKind, SnapshotMount, Snapshotter, SnapshotUsage } from './snapshot-types.js';

/** Largest key + value of one label, as containerd's labels.Validate (4096 bytes). */
const MAX_LABEL_BYTES = 4096;

function validateLabels(labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_BYTES) {
      throw new ImageError('INVALID_ARGUMENT', `label ${JSON.stringify(k.slice(0, 64))} is longer than ${MAX_LABEL_BYTES} bytes`, { details: { key: k.slice(0, 64) } });
    }
  }
}

function requireKey(key: string, what = 'key'): void {
  if (key === '') throw new ImageError('INVALID_ARGUMENT', `snapshot ${what} must not be empty`);
}

function publicInfo(rec: SnapshotRecord): SnapshotInfo {
  return { name: rec.name, parent: rec.parent, kind: rec.kind, createdAt: rec.createdAt, updatedAt: rec.updatedAt, labels: { ...rec.labels } };
}

/** Chain ID at the end of a target label (containerd's metadata layer may prefix it with `<namespace>/<id>/`). */
const TARGET_CHAIN_ID = /(sha256:[0-9a-f]{64})$/;

/** Options of OverlaySnapshotter. */
export interface OverlaySnapshotterOptions {
  /** How to start the serve-nbd daemon of lazy layers (without it, lazy snapshots cannot be mounted). */
  serveNbd?: ServeNbdLauncher;
  /** How long a chain mounted ahead (at the lazy Prepare of an image's top layer) may stay unused, in ms; 0: mount only on use. */
  mountAheadIdleMs?: number;
}

/** containerd's overlayfs snapshotter, rooted at `root` (metadata.db, snapshots/), plus lazily served indexed layers (lazy.db, lazy/). */
export class OverlaySnapshotter implements Snapshotter {
  private readonly store: MetadataStore;
  private readonly snapshotsDir: string;
  /** Lazy-layer catalog (chain ID -> indexed layer) and chain-mount records. */
  readonly catalog: LazyCatalog;
  private readonly chains: ChainMounts;
  private readonly mountAheadIdleMs: number;

  constructor(readonly root: string, options: OverlaySnapshotterOptions = {}) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    this.snapshotsDir = path.join(root, 'snapshots');
    mkdirSync(this.snapshotsDir, { recursive: true, mode: 0o700 });
    this.store = new MetadataStore(path.join(root, 'metadata.db'));
    this.catalog = new LazyCatalog(path.join(root, 'lazy.db'));
    this.chains = new ChainMounts(path.join(root, 'lazy'), this.catalog, options.serveNbd);
    this.mountAheadIdleMs = options.mountAheadIdleMs ?? DEFAULT_MOUNT_AHEAD_IDLE_MS;
  }

  /** Directory of snapshot `id`'s own tree (upperdir of active snapshots). */
  fsPath(id: number): string {
    return path.join(this.snapshotsDir, String(id), 'fs');
  }

  private workPath(id: number): string {
    return path.join(this.snapshotsDir, String(id), 'work');
  }

  async prepare(key: string, parent: string, labels: Record<string, string> = {}): Promise<SnapshotMount[]> {
    const target = labels[TARGET_SNAPSHOT_LABEL];
    const layer = target === undefined ? undefined : await this.discoverLazyLayer(target, labels);
    if (target !== undefined && layer) {
      this.createLazy(target, parent, labels, layer);
      this.chains.mountAhead(layer, this.mountAheadIdleMs);
      // containerd's remote-snapshotter protocol: the target exists, so the client skips download and unpack.
      throw new ImageError('ALREADY_EXISTS', `snapshot ${JSON.stringify(target)} is served lazily from index ${layer.indexDigest}`, { details: { key, target, index: layer.indexDigest, layer: layer.layerIndex } });
    }
    return this.mountsOfNew(this.create('ACTIVE', key, parent, labels));
  }

  /** Mounts of a just-created snapshot; when they cannot be made (a lazy chain that fails to mount), the snapshot is removed again. */
  private async mountsOfNew(rec: SnapshotRecord): Promise<SnapshotMount[]> {
    try {
      return await this.mountsOf(rec);
    } catch (err) {
      await this.remove(rec.name).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Discovery of an indexed layer for target `target`: pinned labels, then turbo.ociv1 layer annotations (the index
   * fetched by digest), then CRI labels + a referrers lookup in the registry (both cached in the catalog), then the
   * local catalog by chain ID; undefined means ordinary unpack.
   */
  private async discoverLazyLayer(target: string, labels: Record<string, string>): Promise<LazyLayer | undefined> {
    const pinned = lazyLayerOf(labels);
    if (pinned) return pinned;
    const chainId = TARGET_CHAIN_ID.exec(target)?.[1];
    if (chainId === undefined) return undefined;
    const fromAnnotations = await discoverByAnnotations(chainId, labels, this.catalog);
    if (fromAnnotations) return fromAnnotations;
    const fromCri = await this.discoverByCriLabels(chainId, labels);
    return fromCri ?? this.catalog.lookup(chainId);
  }

  /** The layer `chainId` of the image the CRI labels name, when that image has a turbo-oci index (recorded in the catalog). */
  private async discoverByCriLabels(chainId: string, labels: Record<string, string>): Promise<LazyLayer | undefined> {
    const imageRef = labels[CRI_LABELS.imageRef];
    const manifestDigest = labels[CRI_LABELS.manifestDigest];
    if (imageRef === undefined || manifestDigest === undefined) return undefined;
    try {
      const ref = parseReference(imageRef);
      if (ref.kind !== 'registry') return undefined;
      const store = await openImageStore(ref);
      try {
        const resolved = await resolveLazyImage(store, ref, manifestDigest);
        this.catalog.record(resolved.entries);
        return resolved.entries.find((e) => e.chainId === chainId)?.layer;
      } finally {
        await store.close();
      }
    } catch {
      // No index, registry unreachable, unreadable index: fall back to the catalog, else unpack as usual.
      return undefined;
    }
  }

  /** Records committed snapshot `name` (parent `parent`) as served by `layer`; ALREADY_EXISTS when `name` exists. */
  private createLazy(name: string, parent: string, labels: Record<string, string>, layer: LazyLayer): void {
    validateLabels(labels);
    this.store.transaction(() => {
      if (this.store.find(name)) throw new ImageError('ALREADY_EXISTS', `snapshot ${JSON.stringify(name)} already exists`, { details: { key: name } });
      const parentRec = parent === '' ? undefined : this.store.get(parent);
      if (parentRec && parentRec.kind !== 'COMMITTED') throw new ImageError('INVALID_ARGUMENT', `parent ${JSON.stringify(parent)} is not a committed snapshot`, { details: { key: name, parent } });
      const id = this.store.nextId();
      rmSync(path.join(this.snapshotsDir, String(id)), { recursive: true, force: true });
      mkdirSync(this.fsPath(id), { recursive: true, mode: 0o755 });
      // The target label stays: containerd's metadata layer finds the new snapshot by Walk with a labels."containerd.io/snapshot.ref" filter.
      const inserted = this.store.insert(name, parentRec?.id ?? null, 'COMMITTED', { ...labels, ...lazyLabels(layer) }, Date.now());
      if (inserted !== id) throw new ImageError('INTERNAL', `snapshot id ${inserted} differs from the reserved id ${id}`);
    });
  }

  async view(key: string, parent: string, labels: Record<string, string> = {}): Promise<SnapshotMount[]> {
    return this.mountsOfNew(this.create('VIEW', key, parent, labels));
  }

  private create(kind: SnapshotKind, key: string, parent: string, labels: Record<string, string>): SnapshotRecord {
    requireKey(key);
    validateLabels(labels);
    return this.store.transaction(() => {
      if (this.store.find(key)) throw new ImageError('ALREADY_EXISTS', `snapshot ${JSON.stringify(key)} already exists`, { details: { key } });
      let parentRec: SnapshotRecord | undefined;
      if (parent !== '') {
        parentRec = this.store.get(parent);
        if (parentRec.kind !== 'COMMITTED') {
          throw new ImageError('INVALID_ARGUMENT', `parent ${JSON.stringify(parent)} is not a committed snapshot`, { details: { key, parent, kind: parentRec.kind } });
        }
      }
      // The directory is made inside the transaction: if we crash before COMMIT, the id is reissued and the stale directory replaced.
      const id = this.store.nextId();
      const dir = path.join(this.snapshotsDir, String(id));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(this.fsPath(id), { recursive: true, mode: 0o755 });
      if (kind === 'ACTIVE') mkdirSync(this.workPath(id), { mode: 0o711 });
      if (parentRec) {
        const st = statSync(this.fsPath(parentRec.id));
        chownSync(this.fsPath(id), st.uid, st.gid);
      }
      const inserted = this.store.insert(key, parentRec?.id ?? null, kind, labels, Date.now());
      if (inserted !== id) throw new ImageError('INTERNAL', `snapshot id ${inserted} differs from the reserved id ${id}`);
      return this.store.get(key);
    });
  }

  private async mountsOf(rec: SnapshotRecord): Promise<SnapshotMount[]> {
    const parents = this.store.ancestorIds(rec.parentId);
    const byId = new Map(parents.length === 0 ? [] : this.store.all().map((r) => [r.id, r] as const));
    const lazyAt = parents.findIndex((id) => lazyLayerOf(byId.get(id)?.labels ?? {}) !== undefined);
    if (lazyAt >= 0) {
      // The nearest lazy ancestor's chain is one shared read-only ext4 mount; committed snapshots above it stay directories.
      const chainDir = await this.chains.acquire(lazyLayerOf(byId.get(parents[lazyAt]!)!.labels)!, rec.id);
      const lowers = [...parents.slice(0, lazyAt).map((id) => this.fsPath(id)), chainDir];
      if (rec.kind === 'ACTIVE') {
        return [{ type: 'overlay', source: 'overlay', options: [`workdir=${this.workPath(rec.id)}`, `upperdir=${this.fsPath(rec.id)}`, `lowerdir=${lowers.join(':')}`] }];
      }
      if (lowers.length === 1) return [{ type: 'bind', source: chainDir, options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lowers.join(':')}`] }];
    }
    if (parents.length === 0) {
      return [{ type: 'bind', source: this.fsPath(rec.id), options: [rec.kind === 'VIEW' ? 'ro' : 'rw', 'rbind'] }];
    }
    const lowerdir = `lowerdir=${parents.map((id) => this.fsPath(id)).join(':')}`;
    if (rec.kind === 'ACTIVE') {
      return [{ type: 'overlay', source: 'overlay', options: [`workdir=${this.workPath(rec.id)}`, `upperdir=${this.fsPath(rec.id)}`, lowerdir] }];
    }
    if (parents.length === 1) return [{ type: 'bind', source: this.fsPath(parents[0]!), options: ['ro', 'rbind'] }];
    return [{ type: 'overlay', source: 'overlay', options: [lowerdir] }];
  }

  async mounts(key: string): Promise<SnapshotMount[]> {
    requireKey(key);
    const rec = this.store.get(key);
    if (rec.kind === 'COMMITTED') {
      throw new ImageError('FAILED_PRECONDITION', `snapshot ${JSON.stringify(key)} is committed, not active or view`, { details: { key } });
    }
    return this.mountsOf(rec);
  }

  async commit(name: string, key: string, labels: Record<string, string> = {}): Promise<void> {
    requireKey(name, 'name');
    requireKey(key);
    validateLabels(labels);
    const id = this.store.transaction(() => {
      const rec = this.store.get(key);
      if (rec.kind !== 'ACTIVE') {
        throw new ImageError('FAILED_PRECONDITION', `snapshot ${JSON.stringify(key)} is ${rec.kind.toLowerCase()}, not active`, { details: { key, kind: rec.kind } });
      }
      if (this.store.find(name)) throw new ImageError('ALREADY_EXISTS', `snapshot ${JSON.stringify(name)} already exists`, { details: { name } });
      const usage = diskUsage(this.fsPath(rec.id));
      this.store.markCommitted(rec.id, name, labels, usage.size, usage.inodes, Date.now());
      return rec.id;
    });
    // A committed snapshot has no mounts (containerd unmounts before Commit, e.g. after unpacking a layer onto a lazy
    // base): its use of a lazy chain mount ends here, so the mount goes away with its last active/view user.
    await this.chains.release(id);
  }

  async remove(key: string): Promise<void> {
    requireKey(key);
    const id = this.store.transaction(() => {
      const rec = this.store.get(key);
      if (this.store.hasChildren(rec.id)) {
        throw new ImageError('FAILED_PRECONDITION', `snapshot ${JSON.stringify(key)} has children`, { details: { key }, hint: 'remove the snapshots built on it first' });
      }
      this.store.delete(rec.id);
      return rec.id;
    });
    // After COMMIT: a crash here leaves an unreferenced directory (and chain-mount use) that cleanup() removes.
    rmSync(path.join(this.snapshotsDir, String(id)), { recursive: true, force: true });
    await this.chains.release(id);
  }

  async stat(key: string): Promise<SnapshotInfo> {
    requireKey(key);
    return publicInfo(this.store.get(key));
  }

  async update(info: Pick<SnapshotInfo, 'name' | 'labels'> & Partial<SnapshotInfo>, fieldPaths: string[]): Promise<SnapshotInfo> {
    requireKey(info.name);
    const given = info.labels ?? {};
    return this.store.transaction(() => {
      const rec = this.store.get(info.name);
      let labels = { ...rec.labels };
      if (fieldPaths.length === 0) labels = { ...given };
      for (const p of fieldPaths) {
        if (p === 'labels') labels = { ...given };
        else if (p.startsWith('labels.')) {
          const k = p.slice('labels.'.length);
          if (Object.hasOwn(given, k)) labels[k] = given[k]!;
          else delete labels[k];
        } else {
          throw new ImageError('INVALID_ARGUMENT', `cannot update field ${JSON.stringify(p)} of snapshot ${JSON.stringify(info.name)}`, { details: { key: info.name, field: p }, hint: 'only labels and labels.<key> can change' });
        }
      }
      validateLabels(labels);
      this.store.setLabels(rec.id, labels, Date.now());
      return publicInfo(this.store.get(info.name));
    });
  }

  async usage(key: string): Promise<SnapshotUsage> {
    requireKey(key);
    const rec = this.store.get(key);
    if (rec.kind === 'ACTIVE') return diskUsage(this.fsPath(rec.id));
    return { size: rec.size, inodes: rec.inodes };
  }

  async walk(filters: string[] = []): Promise<SnapshotInfo[]> {
    const match = parseSnapshotFilters(filters);
    return this.store.all().map(publicInfo).filter(match);
  }

  async cleanup(): Promise<void> {
    const records = this.store.all();
    // Only active snapshots and views use chain mounts.
    await this.chains.releaseUnused(new Set(records.filter((r) => r.kind !== 'COMMITTED').map((r) => r.id)));
    const live = new Set(records.map((r) => String(r.id)));
    for (const name of readdirSync(this.snapshotsDir)) {
      if (!live.has(name)) rmSync(path.join(this.snapshotsDir, name), { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await this.chains.close();
    this.store.close();
    this.catalog.close();
  }

  /** True when snapshot directory `id` exists on disk (for crash-consistency checks). */
  hasDirectory(id: number): boolean {
    return existsSync(path.join(this.snapshotsDir, String(id)));
  }
}
