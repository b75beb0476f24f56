// The overlayfs snapshotter: containerd v1.6 snapshots/overlay semantics (snapshots/<id>/fs and work) over the SQLite metadata store.
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ImageError } from '../errors.js';
import { diskUsage } from './disk-usage.js';
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

/** containerd's overlayfs snapshotter, rooted at `root` (metadata.db and snapshots/). */
export class OverlaySnapshotter implements Snapshotter {
  private readonly store: MetadataStore;
  private readonly snapshotsDir: string;

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    this.snapshotsDir = path.join(root, 'snapshots');
    mkdirSync(this.snapshotsDir, { recursive: true, mode: 0o700 });
    this.store = new MetadataStore(path.join(root, 'metadata.db'));
  }

  /** Directory of snapshot `id`'s own tree (upperdir of active snapshots). */
  fsPath(id: number): string {
    return path.join(this.snapshotsDir, String(id), 'fs');
  }

  private workPath(id: number): string {
    return path.join(this.snapshotsDir, String(id), 'work');
  }

  async prepare(key: string, parent: string, labels: Record<string, string> = {}): Promise<SnapshotMount[]> {
    return this.mountsOf(this.create('ACTIVE', key, parent, labels));
  }

  async view(key: string, parent: string, labels: Record<string, string> = {}): Promise<SnapshotMount[]> {
    return this.mountsOf(this.create('VIEW', key, parent, labels));
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

  private mountsOf(rec: SnapshotRecord): SnapshotMount[] {
    const parents = this.store.ancestorIds(rec.parentId);
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
    this.store.transaction(() => {
      const rec = this.store.get(key);
      if (rec.kind !== 'ACTIVE') {
        throw new ImageError('FAILED_PRECONDITION', `snapshot ${JSON.stringify(key)} is ${rec.kind.toLowerCase()}, not active`, { details: { key, kind: rec.kind } });
      }
      if (this.store.find(name)) throw new ImageError('ALREADY_EXISTS', `snapshot ${JSON.stringify(name)} already exists`, { details: { name } });
      const usage = diskUsage(this.fsPath(rec.id));
      this.store.markCommitted(rec.id, name, labels, usage.size, usage.inodes, Date.now());
    });
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
    // After COMMIT: a crash here leaves an unreferenced directory that cleanup() removes.
    rmSync(path.join(this.snapshotsDir, String(id)), { recursive: true, force: true });
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
    const live = new Set(this.store.all().map((r) => String(r.id)));
    for (const name of readdirSync(this.snapshotsDir)) {
      if (!live.has(name)) rmSync(path.join(this.snapshotsDir, name), { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    this.store.close();
  }

  /** True when snapshot directory `id` exists on disk (for crash-consistency checks). */
  hasDirectory(id: number): boolean {
    return existsSync(path.join(this.snapshotsDir, String(id)));
  }
}
