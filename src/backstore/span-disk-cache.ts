// The persistent span cache: verified compressed span bytes as files (written temp + rename), bounded in size, LRU-evicted.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { open, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ImageError } from '../errors.js';

/** Key of one cached span: the layer digest's hex, the compressed range and the span's expected sha256. */
export interface SpanKey {
  layerHex: string;
  start: number;
  end: number;
  sha256: Buffer;
}

interface Entry {
  bytes: number;
  used: number;
}

/**
 * A directory of verified compressed spans: `<dir>/<layer hex>/<start>-<end>`. Files are written to a temp name and
 * renamed (a crash leaves either no file or a whole one); every read re-checks the span's sha256, so a damaged file is
 * detected, deleted and reported as a miss. Total size stays under `maxBytes` by evicting least recently used files.
 */
export class SpanDiskCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #clock = 0;
  /** Files found damaged (digest mismatch or short) and removed. */
  corruptFiles = 0;
  /** Files evicted to stay under the bound. */
  evictions = 0;

  readonly #onCorrupt: (() => void) | undefined;

  constructor(dir: string, maxBytes: number, onCorrupt?: () => void) {
    this.dir = dir;
    this.#onCorrupt = onCorrupt;
    this.maxBytes = maxBytes;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new ImageError('FAILED_PRECONDITION', `cannot create the span cache directory ${dir}`, { cause, hint: 'pass a writable --cache-dir' });
    }
    this.#scan();
  }

  /** Bytes of span files currently recorded. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of span files recorded. */
  get files(): number {
    return this.#entries.size;
  }

  #rel(key: SpanKey): string {
    return path.join(key.layerHex, `${key.start}-${key.end}`);
  }

  /** Rebuilds the in-memory table from the directory (oldest mtime = least recently used); removes stray temp files. */
  #scan(): void {
    const found: [string, Entry][] = [];
    for (const layer of readdirSync(this.dir)) {
      if (!/^[0-9a-f]{64}$/.test(layer)) continue;
      for (const name of readdirSync(path.join(this.dir, layer))) {
        const rel = path.join(layer, name);
        if (!/^\d+-\d+$/.test(name)) {
          void rm(path.join(this.dir, rel), { force: true });
          continue;
        }
        try {
          const st = statSync(path.join(this.dir, rel));
          found.push([rel, { bytes: st.size, used: st.mtimeMs }]);
        } catch {
          // vanished meanwhile (another process evicted it)
        }
      }
    }
    found.sort((a, b) => a[1].used - b[1].used);
    for (const [rel, e] of found) {
      this.#entries.set(rel, { bytes: e.bytes, used: ++this.#clock });
      this.#bytes += e.bytes;
    }
    this.#evict(0);
  }

  /** Whether a file for `key` is recorded (not read nor verified: get() does that). */
  has(key: SpanKey): boolean {
    return this.#entries.has(this.#rel(key));
  }

  /** The verified bytes of `key`, or undefined (absent, or damaged and now removed). */
  async get(key: SpanKey): Promise<Buffer | undefined> {
    const rel = this.#rel(key);
    const entry = this.#entries.get(rel);
    if (!entry) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readUpTo(path.join(this.dir, rel), key.end - key.start + 1); // one byte more: a longer file is damaged too
    } catch {
      this.#forget(rel);
      return undefined;
    }
    if (bytes.length !== key.end - key.start || !createHash('sha256').update(bytes).digest().equals(key.sha256)) {
      this.corruptFiles++;
      this.#onCorrupt?.();
      this.#forget(rel);
      await rm(path.join(this.dir, rel), { force: true });
      return undefined;
    }
    this.#entries.delete(rel);
    entry.used = ++this.#clock;
    this.#entries.set(rel, entry);
    const now = new Date();
    void utimes(path.join(this.dir, rel), now, now).catch(() => undefined); // the mtime is the LRU order after a restart
    return bytes;
  }

  /** Records verified bytes of `key` (the caller has checked them); failures to write only lose the cache entry. */
  async put(key: SpanKey, bytes: Buffer): Promise<void> {
    if (bytes.length > this.maxBytes) return;
    const rel = this.#rel(key);
    if (this.#entries.has(rel)) return;
    const file = path.join(this.dir, rel);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      await writeFile(tmp, bytes);
      await rename(tmp, file);
    } catch {
      await rm(tmp, { force: true });
      return;
    }
    if (this.#entries.has(rel)) return;
    this.#entries.set(rel, { bytes: bytes.length, used: ++this.#clock });
    this.#bytes += bytes.length;
    this.#evict(0);
  }

  #forget(rel: string): void {
    const e = this.#entries.get(rel);
    if (!e) return;
    this.#entries.delete(rel);
    this.#bytes -= e.bytes;
  }

  /** Evicts least recently used files until `room` more bytes fit under the bound. */
  #evict(room: number): void {
    for (const [rel] of this.#entries) {
      if (this.#bytes + room <= this.maxBytes) break;
      this.#forget(rel);
      this.evictions++;
      void rm(path.join(this.dir, rel), { force: true });
    }
  }
}

/** Up to `length` bytes from the start of `file` with positional reads into one buffer (shorter if the file is). */
async function readUpTo(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(out, filled, length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === length ? out : out.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
