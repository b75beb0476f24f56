// A small deterministic tar writer (POSIX.1-2001 ustar + pax `x` records) for hand-made test layers.
import { closeSync, openSync, writeSync } from 'node:fs';

/** Kinds of tar entries the writer produces. */
export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One entry to write; `data` is the whole content of a regular file (default empty). */
export interface TarEntrySpec {
  path: string;
  type: TarEntryType;
  mode: number;
  mtime: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  data?: Buffer;
  /** Symlink target or hardlink target path (in-archive path of the link source). */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as `SCHILY.xattr.<name>` pax records. */
  xattrs?: Record<string, string | Buffer>;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarEntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: Buffer): Buffer {
  // A record is "<len> <key>=<value>\n" where <len> counts itself.
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function header(fields: { name: string; mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname: string; uname: string; gname: string; devmajor: number; devminor: number }): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(fields.name, 0, 100, 'utf8');
  h.write(octal(fields.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(fields.uid, 8), 108, 'ascii');
  h.write(octal(fields.gid, 8), 116, 'ascii');
  h.write(octal(fields.size, 12), 124, 'ascii');
  h.write(octal(fields.mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(fields.type, 156, 'ascii');
  h.write(fields.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(fields.uname, 265, 32, 'utf8');
  h.write(fields.gname, 297, 32, 'utf8');
  h.write(octal(fields.devmajor, 8), 329, 'ascii');
  h.write(octal(fields.devminor, 8), 337, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The bytes of one entry (pax header when needed, ustar header, data, padding). */
export function tarEntryBytes(e: TarEntrySpec): Buffer {
  const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
  const name = e.type === 'dir' && !e.path.endsWith('/') ? `${e.path}/` : e.path;
  const linkname = e.linkname ?? '';
  const pax: Buffer[] = [];
  if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', Buffer.from(name)));
  if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord('linkpath', Buffer.from(linkname)));
  if (data.length > 0o77777777777) pax.push(paxRecord('size', Buffer.from(String(data.length))));
  for (const [k, v] of Object.entries(e.xattrs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    pax.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.isBuffer(v) ? v : Buffer.from(v)));
  }
  const parts: Buffer[] = [];
  const common = { mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime, uname: e.uname ?? '', gname: e.gname ?? '', devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 };
  if (pax.length > 0) {
    const body = Buffer.concat(pax);
    const base = name.replace(/\/$/, '').split('/').pop() ?? 'entry';
    parts.push(header({ ...common, name: `PaxHeaders.0/${base}`.slice(0, 99), mode: 0o644, size: body.length, type: 'x', linkname: '' }), body, padding(body.length));
  }
  parts.push(header({ ...common, name: name.slice(0, 100), size: data.length, type: TYPEFLAG[e.type], linkname: linkname.slice(0, 100) }));
  if (data.length > 0) parts.push(data, padding(data.length));
  return Buffer.concat(parts);
}

/** Streams tar entries into a file; `finish()` writes the two zero blocks and closes it. */
export class TarFileWriter {
  #fd: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Total bytes written so far (the offset of the next header). */
  offset = 0;

  constructor(file: string) {
    this.#fd = openSync(file, 'w');
  }

  /** Appends one entry. */
  add(e: TarEntrySpec): void {
    const b = tarEntryBytes(e);
    this.#pending.push(b);
    this.#pendingBytes += b.length;
    this.offset += b.length;
    if (this.#pendingBytes >= 1 << 20) this.#flush();
  }

  #flush(): void {
    if (this.#pendingBytes === 0) return;
    const all = Buffer.concat(this.#pending);
    let done = 0;
    while (done < all.length) done += writeSync(this.#fd, all, done, all.length - done);
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** Writes the end-of-archive marker (two zero blocks) and closes the file. */
  finish(): void {
    this.#pending.push(Buffer.alloc(2 * BLOCK));
    this.#pendingBytes += 2 * BLOCK;
    this.offset += 2 * BLOCK;
    this.#flush();
    closeSync(this.#fd);
  }
}

/** Writes `entries` as one complete tar file. */
export function writeTarFile(file: string, entries: Iterable<TarEntrySpec>): void {
  const w = new TarFileWriter(file);
  for (const e of entries) w.add(e);
  w.finish();
}

/** The complete tar archive of `entries` in memory (for small layers). */
export function tarBytes(entries: Iterable<TarEntrySpec>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) parts.push(tarEntryBytes(e));
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
