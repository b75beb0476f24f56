// The snapshotter domain: snapshot kinds, info records, mounts and the Snapshotter interface (containerd v1.6 snapshots API semantics).

/** Kind of a snapshot, named as containerd's snapshots.Kind (api/services/snapshots/v1 enum Kind). */
export type SnapshotKind = 'VIEW' | 'ACTIVE' | 'COMMITTED';

/** What Stat, Update and Walk report about one snapshot. */
export interface SnapshotInfo {
  /** Key of an active/view snapshot, or name of a committed one. */
  name: string;
  /** Name of the committed parent; '' for none. */
  parent: string;
  kind: SnapshotKind;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

/** One mount(2) call, as containerd's types.Mount. */
export interface SnapshotMount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/** Disk usage of a snapshot (containerd snapshots.Usage): bytes allocated and distinct inodes. */
export interface SnapshotUsage {
  size: number;
  inodes: number;
}

/** The operations of containerd's snapshots.Snapshotter; errors are ImageErrors with containerd's error classes as codes. */
export interface Snapshotter {
  /** Creates an active (writable) snapshot `key` on top of the committed `parent` ('' for none); returns its mounts. */
  prepare(key: string, parent: string, labels?: Record<string, string>): Promise<SnapshotMount[]>;
  /** Creates a read-only view `key` of the committed `parent`; returns its mounts. */
  view(key: string, parent: string, labels?: Record<string, string>): Promise<SnapshotMount[]>;
  /** Mounts of an existing active or view snapshot. */
  mounts(key: string): Promise<SnapshotMount[]>;
  /** Turns the active snapshot `key` into the committed snapshot `name`. */
  commit(name: string, key: string, labels?: Record<string, string>): Promise<void>;
  /** Removes a snapshot that has no children. */
  remove(key: string): Promise<void>;
  /** Info of one snapshot. */
  stat(key: string): Promise<SnapshotInfo>;
  /** Changes labels of a snapshot; `fieldPaths` are 'labels' or 'labels.<key>' (empty: replace all labels). */
  update(info: Pick<SnapshotInfo, 'name' | 'labels'> & Partial<SnapshotInfo>, fieldPaths: string[]): Promise<SnapshotInfo>;
  /** Disk usage of a snapshot. */
  usage(key: string): Promise<SnapshotUsage>;
  /** All snapshots matching any of `filters` (containerd filter syntax; none: all). */
  walk(filters?: string[]): Promise<SnapshotInfo[]>;
  /** Removes on-disk state that no snapshot references (left by crashes or removals). */
  cleanup(): Promise<void>;
  /** Releases the store. */
  close(): Promise<void>;
}
