// The snapshot metadata store: one better-sqlite3 database (WAL) where every operation is one transaction and ids only grow.
import Database from 'better-sqlite3';
import { ImageError } from '../errors.js';
import type { SnapshotInfo, SnapshotKind } from './snapshot-types.js';

/** A stored snapshot row: the info plus its id, its parent's id and the usage recorded at commit. */
export interface SnapshotRecord extends SnapshotInfo {
  id: number;
  parentId: number | null;
  size: number;
  inodes: number;
}

interface Row {
  id: number;
  name: string;
  parent_id: number | null;
  parent_name: string | null;
  kind: SnapshotKind;
  created_ms: number;
  updated_ms: number;
  labels: string;
  size: number;
  inodes: number;
}

const SELECT = `SELECT s.id, s.name, s.parent_id, p.name AS parent_name, s.kind, s.created_ms, s.updated_ms, s.labels, s.size, s.inodes
  FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent_id`;

function toRecord(row: Row): SnapshotRecord {
  return {
    id: row.id,
    name: row.name,
    parentId: row.parent_id,
    parent: row.parent_name ?? '',
    kind: row.kind,
    createdAt: new Date(row.created_ms),
    updatedAt: new Date(row.updated_ms),
    labels: JSON.parse(row.labels) as Record<string, string>,
    size: row.size,
    inodes: row.inodes,
  };
}

/** Snapshot metadata in SQLite; callers wrap multi-step changes (including directory work) in `transaction`. */
export class MetadataStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(`CREATE TABLE IF NOT EXISTS snapshots (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL UNIQUE,
      parent_id INTEGER REFERENCES snapshots(id),
      kind TEXT NOT NULL CHECK (kind IN ('VIEW', 'ACTIVE', 'COMMITTED')),
      created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL,
      labels TEXT NOT NULL,
      size INTEGER NOT NULL DEFAULT 0,
      inodes INTEGER NOT NULL DEFAULT 0)`);
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of its changes land, or none (also on a crash). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** The snapshot called `name`, or undefined. */
  find(name: string): SnapshotRecord | undefined {
    const row = this.db.prepare(`${SELECT} WHERE s.name = ?`).get(name) as Row | undefined;
    return row && toRecord(row);
  }

  /** The snapshot called `name`; NOT_FOUND otherwise. */
  get(name: string): SnapshotRecord {
    const rec = this.find(name);
    if (!rec) throw new ImageError('NOT_FOUND', `snapshot ${JSON.stringify(name)} does not exist`, { details: { key: name } });
    return rec;
  }

  /** Ids of `id`'s ancestors, nearest first. */
  ancestorIds(parentId: number | null): number[] {
    const ids: number[] = [];
    const stmt = this.db.prepare('SELECT parent_id FROM snapshots WHERE id = ?');
    for (let id = parentId; id !== null; ) {
      ids.push(id);
      id = (stmt.get(id) as { parent_id: number | null } | undefined)?.parent_id ?? null;
    }
    return ids;
  }

  /** True when some snapshot has `id` as its parent. */
  hasChildren(id: number): boolean {
    return this.db.prepare('SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1').get(id) !== undefined;
  }

  /** Inserts a new snapshot and returns its id (larger than every id ever issued). */
  insert(name: string, parentId: number | null, kind: SnapshotKind, labels: Record<string, string>, nowMs: number): number {
    const res = this.db
      .prepare('INSERT INTO snapshots (name, parent_id, kind, created_ms, updated_ms, labels) VALUES (?, ?, ?, ?, ?, ?)')
      .run(name, parentId, kind, nowMs, nowMs, JSON.stringify(labels));
    return Number(res.lastInsertRowid);
  }

  /** The id the next insert will get (AUTOINCREMENT never reuses a committed id). */
  nextId(): number {
    const seq = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'").get() as { seq: number } | undefined;
    return (seq?.seq ?? 0) + 1;
  }

  /** Renames active `id` to the committed `name` with its usage and labels. */
  markCommitted(id: number, name: string, labels: Record<string, string>, size: number, inodes: number, nowMs: number): void {
    this.db
      .prepare("UPDATE snapshots SET name = ?, kind = 'COMMITTED', labels = ?, size = ?, inodes = ?, updated_ms = ? WHERE id = ?")
      .run(name, JSON.stringify(labels), size, inodes, nowMs, id);
  }

  /** Replaces the labels of `id`. */
  setLabels(id: number, labels: Record<string, string>, nowMs: number): void {
    this.db.prepare('UPDATE snapshots SET labels = ?, updated_ms = ? WHERE id = ?').run(JSON.stringify(labels), nowMs, id);
  }

  /** Deletes the row of `id`. */
  delete(id: number): void {
    this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
  }

  /** Every snapshot, in id order. */
  all(): SnapshotRecord[] {
    return (this.db.prepare(`${SELECT} ORDER BY s.id`).all() as Row[]).map(toRecord);
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}
