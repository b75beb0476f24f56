// Canonical descriptions of a directory tree (unpacked image or mounted ext4) and their comparison.
import path from 'node:path';
import { run } from './run.js';

/** One file system object, as seen through lstat/readlink/listxattr. Paths are absolute within the tree ('/' = root). */
export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  /** Permission bits including setuid/setgid/sticky (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds. */
  mtime: number;
  /** Regular files: bytes; symlinks: target length. Absent for other types. */
  size?: number;
  sha256?: string;
  target?: string;
  rdevMajor?: number;
  rdevMinor?: number;
  /** Extended attribute name → value as hex. */
  xattrs: Record<string, string>;
  /** For a file with more than one name in the tree: all its paths, sorted (the same array on every member). */
  hardlinks?: string[];
}

/** Options of compareTrees. */
export interface CompareOptions {
  /** Paths (and everything under them) to skip on both sides. Default: none. */
  ignorePaths?: string[];
  /** Paths that may exist only in `actual` (default ['/lost+found'], which mke2fs-style images carry). */
  allowExtra?: string[];
  /** Skip directory mtimes (umoci unpack leaves "now" on directories that a layer touches only implicitly). */
  ignoreDirMtimes?: boolean;
}

const WALKER = path.join(import.meta.dirname, 'tree-walk.py');

/**
 * Describes the tree under `root` canonically (sorted by path): type, mode, uid, gid, size, mtime, symlink target,
 * device numbers, xattrs, hardlink groups and file sha256. Use it on both sides: `umoci unpack` output and a mount.
 */
export async function expectedTree(root: string): Promise<TreeEntry[]> {
  const out = await run('python3', [WALKER, root]);
  const raw = out.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as TreeEntry & { ino: string; nlink: number });
  const groups = new Map<string, string[]>();
  for (const e of raw) if (e.type !== 'dir' && e.nlink > 1) groups.set(e.ino, [...(groups.get(e.ino) ?? []), e.path]);
  const entries: TreeEntry[] = raw.map(({ ino, nlink: _nlink, ...e }) => {
    const group = groups.get(ino);
    return group && group.length > 1 ? { ...e, hardlinks: [...group].sort() } : e;
  });
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function under(p: string, prefixes: string[]): boolean {
  return prefixes.some((q) => p === q || p.startsWith(q.endsWith('/') ? q : `${q}/`));
}

const FIELDS = ['type', 'mode', 'uid', 'gid', 'size', 'mtime', 'sha256', 'target', 'rdevMajor', 'rdevMinor'] as const;

function show(field: string, v: unknown): string {
  if (v === undefined) return 'none';
  return field === 'mode' && typeof v === 'number' ? `0${v.toString(8)}` : JSON.stringify(v);
}

/** Differences between two tree descriptions, one readable line each ("<path>: <field> expected X, got Y"); [] when equal. */
export function compareTrees(expected: TreeEntry[], actual: TreeEntry[], options: CompareOptions = {}): string[] {
  const ignore = options.ignorePaths ?? [];
  const allowExtra = options.allowExtra ?? ['/lost+found'];
  const want = new Map(expected.filter((e) => !under(e.path, ignore)).map((e) => [e.path, e]));
  const have = new Map(actual.filter((e) => !under(e.path, ignore)).map((e) => [e.path, e]));
  const diffs: string[] = [];
  for (const [p, w] of want) {
    const h = have.get(p);
    if (!h) {
      diffs.push(`${p}: missing (expected ${w.type})`);
      continue;
    }
    for (const f of FIELDS) {
      if (f === 'mtime' && options.ignoreDirMtimes && w.type === 'dir') continue;
      if (w[f] !== h[f]) diffs.push(`${p}: ${f} expected ${show(f, w[f])}, got ${show(f, h[f])}`);
    }
    const wx = JSON.stringify(w.xattrs);
    const hx = JSON.stringify(h.xattrs);
    if (wx !== hx) diffs.push(`${p}: xattrs expected ${wx}, got ${hx}`);
    const wl = (w.hardlinks ?? []).filter((q) => !under(q, ignore)).join(',');
    const hl = (h.hardlinks ?? []).filter((q) => !under(q, ignore)).join(',');
    if (wl !== hl) diffs.push(`${p}: hardlinks expected [${wl}], got [${hl}]`);
  }
  for (const [p, h] of have) if (!want.has(p) && !under(p, allowExtra)) diffs.push(`${p}: unexpected ${h.type}`);
  return diffs;
}
