// The local layer index cache: an SQLite (WAL) file keyed by layer digest and span, holding each layer's seek index and entry table.
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

import Database from 'better-sqlite3';

import { ImageError } from '../../src/errors.js';

/** One cached layer: the blobs a build needs instead of the layer itself. */
export interface CachedLayer {
  seekIndexBlob: Buffer;
  entryTableBlob: Buffer;
  points: number;
}

/** Default cache file: $TURBO_OCI_INDEX_CACHE_DIR, else $XDG_CACHE_HOME/turbo-oci, else ~/.cache/turbo-oci. */
export function defaultCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.TURBO_OCI_INDEX_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'turbo-oci');
  return path.join(dir, 'layer-index.sqlite');
}

/** A layer index cache; safe to share between processes (SQLite WAL, busy timeout). */
export class IndexCache {
  readonly file: string;
  readonly #db: Database.Database;

  constructor(file: string) {
    this.file = file;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      this.#db = new Database(file, { timeout: 10_000 });
      this.#db.pragma('journal_mode = WAL');
      this.#db.exec(
        'CREATE TABLE IF NOT EXISTS layer_index (digest TEXT NOT NULL, span INTEGER NOT NULL, seek BLOB NOT NULL, entries BLOB NOT NULL, points INTEGER NOT NULL, PRIMARY KEY (digest, span))',
      );
    } catch (cause) {
      throw new ImageError('UNAVAILABLE', `cannot open the layer index cache ${file}: ${(cause as Error).message}`, { cause, hint: 'pass --no-cache or set TURBO_OCI_INDEX_CACHE_DIR' });
    }
  }

  /** The cached parts of layer `digest` at `spanBytes`, if any. */
  get(digest: string, spanBytes: number): CachedLayer | undefined {
    const row = this.#db.prepare('SELECT seek, entries, points FROM layer_index WHERE digest = ? AND span = ?').get(digest, spanBytes) as
      | { seek: Buffer; entries: Buffer; points: number }
      | undefined;
    return row ? { seekIndexBlob: row.seek, entryTableBlob: row.entries, points: row.points } : undefined;
  }

  /** Stores (or replaces) the parts of a layer. */
  put(digest: string, spanBytes: number, layer: CachedLayer): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO layer_index (digest, span, seek, entries, points) VALUES (?, ?, ?, ?, ?)')
      .run(digest, spanBytes, layer.seekIndexBlob, layer.entryTableBlob, layer.points);
  }

  /** Drops a layer (used when a cached entry fails its checks). */
  delete(digest: string, spanBytes: number): void {
    this.#db.prepare('DELETE FROM layer_index WHERE digest = ? AND span = ?').run(digest, spanBytes);
  }

  close(): void {
    this.#db.close();
  }
}
