// The lazy-layer catalog and chain-mount records: one better-sqlite3 database (<root>/lazy.db, WAL) next to the metadata store.
import Database from 'better-sqlite3';
import type { LazyLayer } from './lazy-layer.js';

/** A shared read-only mount of an indexed image's ext4 (one per index digest and chain position). */
export interface ChainMountRecord {
  mountKey: string;
  imageRef: string;
  indexDigest: string;
  layerIndex: number;
  /** Mount point (<root>/lazy/<id>/mnt). */
  dir: string;
  /** Pid of the serve-nbd daemon serving the device. */
  serverPid: number | null;
}

/** Chain ID -> lazy layer (filled by `turbo-index pull`), plus the chain mounts and which snapshots use them (the refcount). */
export class LazyCatalog {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS catalog (
        chain_id TEXT PRIMARY KEY, image_ref TEXT NOT NULL, index_digest TEXT NOT NULL, layer_index INTEGER NOT NULL, layer_count INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS chain_mounts (
        mount_key TEXT PRIMARY KEY, image_ref TEXT NOT NULL, index_digest TEXT NOT NULL, layer_index INTEGER NOT NULL, dir TEXT NOT NULL, server_pid INTEGER);
      CREATE TABLE IF NOT EXISTS chain_users (snapshot_id INTEGER PRIMARY KEY, mount_key TEXT NOT NULL REFERENCES chain_mounts(mount_key));`);
  }

  /** Records the layers of one image, keyed by chain ID (a later record of the same chain ID replaces the earlier). */
  record(entries: { chainId: string; layer: LazyLayer }[]): void {
    const stmt = this.db.prepare('INSERT OR REPLACE INTO catalog (chain_id, image_ref, index_digest, layer_index, layer_count) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const { chainId, layer } of entries) stmt.run(chainId, layer.imageRef, layer.indexDigest, layer.layerIndex, layer.layerCount);
    }).immediate();
  }

  /** The lazy layer recorded for `chainId`, or undefined. */
  lookup(chainId: string): LazyLayer | undefined {
    const row = this.db.prepare('SELECT image_ref, index_digest, layer_index, layer_count FROM catalog WHERE chain_id = ?').get(chainId) as
      | { image_ref: string; index_digest: string; layer_index: number; layer_count: number }
      | undefined;
    return row && { imageRef: row.image_ref, indexDigest: row.index_digest, layerIndex: row.layer_index, layerCount: row.layer_count };
  }

  /** The chain mount `mountKey`, or undefined. */
  findMount(mountKey: string): ChainMountRecord | undefined {
    const row = this.db.prepare('SELECT * FROM chain_mounts WHERE mount_key = ?').get(mountKey) as Record<string, unknown> | undefined;
    return row && toMount(row);
  }

  /** Every chain mount. */
  allMounts(): ChainMountRecord[] {
    return (this.db.prepare('SELECT * FROM chain_mounts').all() as Record<string, unknown>[]).map(toMount);
  }

  /** Records a chain mount once it is mounted. */
  addMount(m: ChainMountRecord): void {
    this.db
      .prepare('INSERT OR REPLACE INTO chain_mounts (mount_key, image_ref, index_digest, layer_index, dir, server_pid) VALUES (?, ?, ?, ?, ?, ?)')
      .run(m.mountKey, m.imageRef, m.indexDigest, m.layerIndex, m.dir, m.serverPid);
  }

  /** Forgets a chain mount (after its teardown). */
  deleteMount(mountKey: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM chain_users WHERE mount_key = ?').run(mountKey);
      this.db.prepare('DELETE FROM chain_mounts WHERE mount_key = ?').run(mountKey);
    }).immediate();
  }

  /** Records that snapshot `snapshotId` uses chain mount `mountKey`. */
  addUser(snapshotId: number, mountKey: string): void {
    this.db.prepare('INSERT OR REPLACE INTO chain_users (snapshot_id, mount_key) VALUES (?, ?)').run(snapshotId, mountKey);
  }

  /** Drops the use of snapshot `snapshotId`; returns the mount key it used, if any. */
  removeUser(snapshotId: number): string | undefined {
    const row = this.db.prepare('SELECT mount_key FROM chain_users WHERE snapshot_id = ?').get(snapshotId) as { mount_key: string } | undefined;
    this.db.prepare('DELETE FROM chain_users WHERE snapshot_id = ?').run(snapshotId);
    return row?.mount_key;
  }

  /** How many snapshots use chain mount `mountKey` (its refcount). */
  users(mountKey: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM chain_users WHERE mount_key = ?').get(mountKey) as { n: number }).n;
  }

  /** Snapshot ids recorded as users (to drop those whose snapshot no longer exists). */
  userIds(): number[] {
    return (this.db.prepare('SELECT snapshot_id FROM chain_users').all() as { snapshot_id: number }[]).map((r) => r.snapshot_id);
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}

function toMount(row: Record<string, unknown>): ChainMountRecord {
  return {
    mountKey: row.mount_key as string,
    imageRef: row.image_ref as string,
    indexDigest: row.index_digest as string,
    layerIndex: row.layer_index as number,
    dir: row.dir as string,
    serverPid: (row.server_pid as number | null) ?? null,
  };
}
