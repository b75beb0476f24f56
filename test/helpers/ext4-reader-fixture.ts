// ext4 reader test helpers: raw image device, mke2fs -d images from generated trees, debugfs edits and a
// TreeEntry description of a volume read through the reader (compared with expectedTree of the source).
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, lchownSync, linkSync, lutimesSync, mkdirSync, openSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { BlockDevice } from '../../src/format/block-device.js';
import { FileBlockDevice } from '../../src/io/file-block-device.js';
import type { Ext4Volume } from '../../src/ext4/reader/ext4-volume.js';
import { compareTrees, expectedTree, type CompareOptions, type TreeEntry } from './images/tree.js';
import { run } from './images/run.js';
import type { SeededRandom } from './random.js';

/** mke2fs options of the reader tests (issue 6): metadata_csum, htree, extents, huge_file, no journal. */
export const MKFS_ARGS = ['-q', '-F', '-t', 'ext4', '-b', '4096', '-I', '256', '-O', 'metadata_csum,dir_index,extent,huge_file,dir_nlink,extra_isize,^has_journal', '-E', 'root_owner=0:0'];

/** A FileBlockDevice over a raw image file that counts the reads reaching it. */
export async function imageDevice(file: string): Promise<BlockDevice & { reads: number }> {
  const dev = await FileBlockDevice.open(file);
  const counted = {
    sizeBytes: dev.sizeBytes,
    blockBytes: dev.blockBytes,
    reads: 0,
    read(offset: number, length: number): Promise<Buffer> {
      counted.reads++;
      return dev.read(offset, length);
    },
    close: (): Promise<void> => dev.close(),
  };
  return counted;
}

/** Runs mke2fs -d `tree` into `image` of `sizeMiB` (4 KiB blocks unless `blockBytes`), then `e2fsck -fyD` so large directories become htrees. */
export async function mkfsFromTree(tree: string, image: string, sizeMiB: number, extra: string[] = [], blockBytes = 4096): Promise<void> {
  const args = MKFS_ARGS.map((a) => (a === '4096' ? String(blockBytes) : a));
  await run('mke2fs', [...args, ...extra, '-d', tree, image, `${sizeMiB}M`]);
  await optimizeDirs(image);
}

/** e2fsck -fyD: re-indexes directories (exit 1 = "fixed", i.e. optimized, is success here). */
export async function optimizeDirs(image: string): Promise<void> {
  await run('sh', ['-c', 'e2fsck -fyD "$1" >/dev/null 2>&1; s=$?; [ $s -le 1 ]', 'sh', image]);
}

/** Runs debugfs commands (one per line) against `image`; `write` opens it read-write. */
export async function debugfsCommands(image: string, commands: string[], write = false): Promise<string> {
  return run('debugfs', [...(write ? ['-w'] : []), '-f', '-', image], { input: commands.join('\n') + '\n' });
}

/** Sets xattrs and creates device nodes in the source tree with python3 (node has no xattr/mknod API). */
export async function pythonFsOps(ops: { xattrs?: [file: string, name: string, value: Buffer][]; nodes?: [file: string, type: 'char' | 'block', major: number, minor: number][] }): Promise<void> {
  const script = `
import json, os, sys, stat
ops = json.load(sys.stdin)
for f, n, v in ops.get('xattrs', []):
    os.setxattr(f, n, bytes.fromhex(v), follow_symlinks=False)
for f, t, ma, mi in ops.get('nodes', []):
    os.mknod(f, 0o640 | (stat.S_IFCHR if t == 'char' else stat.S_IFBLK), os.makedev(ma, mi))
`;
  const json = JSON.stringify({ xattrs: (ops.xattrs ?? []).map(([f, n, v]) => [f, n, v.toString('hex')]), nodes: ops.nodes ?? [] });
  await run('python3', ['-c', script], { input: json });
}

/** Whole seconds as the tree walker reports them for a mount (Python's int(st_mtime): float, truncated toward zero). */
function pythonSeconds(t: { sec: number; nsec: number }): number {
  return Math.trunc(t.sec + t.nsec / 1e9);
}

/** Describes the volume like expectedTree: every path resolved through lstat (exercising lookups), hashes streamed. */
export async function describeVolume(vol: Ext4Volume, options: { skip?: string[] } = {}): Promise<TreeEntry[]> {
  const out: (TreeEntry & { ino: number })[] = [];
  const byPath = new Map<string, TreeEntry & { ino: number }>();
  const visit = async (p: string): Promise<void> => {
    const st = await vol.lstat(p);
    const e: TreeEntry & { ino: number } = { path: p, type: st.type, mode: st.perm, uid: st.uid, gid: st.gid, mtime: pythonSeconds(st.mtime), xattrs: {}, ino: st.ino };
    for (const name of (await vol.listXattrs(p, { follow: false })).sort()) e.xattrs[name] = (await vol.getXattr(p, name, { follow: false })).toString('hex');
    if (st.type === 'file' && !options.skip?.includes(p)) {
      e.size = st.size;
      const h = createHash('sha256');
      for await (const c of (await vol.openFile(p)).chunks()) h.update(c);
      e.sha256 = h.digest('hex');
    } else if (st.type === 'symlink') {
      e.target = await vol.readlink(p);
      e.size = st.size;
    } else if (st.type === 'char' || st.type === 'block') {
      e.rdevMajor = st.rdev!.major;
      e.rdevMinor = st.rdev!.minor;
    }
    out.push(e);
    byPath.set(p, e);
    if (st.type === 'dir') {
      const entries = await vol.readdir(p);
      for (const d of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const child = p === '/' ? `/${d.name}` : `${p}/${d.name}`;
        await visit(child);
        const got = byPath.get(child);
        if (got && got.ino !== d.ino) throw new Error(`${child}: readdir inode ${d.ino} but lookup found ${got.ino}`);
      }
    }
  };
  await visit('/');
  const groups = new Map<number, string[]>();
  for (const e of out) if (e.type !== 'dir') groups.set(e.ino, [...(groups.get(e.ino) ?? []), e.path]);
  return out
    .map(({ ino, ...e }) => {
      const g = groups.get(ino);
      return g && g.length > 1 ? { ...e, hardlinks: [...g].sort() } : e;
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Differences between the source tree `src` and the volume (the root's mtime is left out: mke2fs sets it when adding lost+found). */
export async function diffWithSource(src: string, vol: Ext4Volume, options: CompareOptions = {}): Promise<string[]> {
  const dropRootTime = (entries: TreeEntry[]): TreeEntry[] => entries.map((e) => (e.path === '/' ? { ...e, mtime: 0 } : e));
  return compareTrees(dropRootTime(await expectedTree(src)), dropRootTime(await describeVolume(vol)), options);
}

/** A small random tree under `root` (dirs, files of random sizes, symlinks, hardlinks); returns its paths. */
export function writeRandomTree(root: string, rng: SeededRandom, entries: number): string[] {
  const dirs = [root];
  const files: string[] = [];
  const made: string[] = [];
  for (let i = 0; i < entries; i++) {
    const parent = dirs[rng.int(dirs.length)]!;
    const name = `n${i}-${rng.bytes(3).toString('hex')}${rng.int(4) === 0 ? '-\u00e9\u4e2d' : ''}`;
    const p = path.join(parent, name);
    const kind = rng.int(10);
    if (kind < 3) {
      mkdirSync(p);
      dirs.push(p);
    } else if (kind < 8 || files.length === 0) {
      const sizes = [0, 1, 4095, 4096, 4097, 12288, 70000];
      writeFileSync(p, rng.bytes(sizes[rng.int(sizes.length)]! + (rng.int(2) ? rng.int(9000) : 0)));
      chmodSync(p, [0o644, 0o600, 0o755, 0o4711][rng.int(4)]!);
      files.push(p);
    } else if (kind < 9) {
      symlinkSync('t'.repeat(1 + rng.int(120)), p);
    } else {
      linkSync(files[rng.int(files.length)]!, p);
    }
    made.push(p);
  }
  for (const p of made) lutimesSync(p, 1_600_000_000 + rng.int(1e8), 1_500_000_000 + rng.int(1e8));
  for (const p of made) if (rng.int(3) === 0) lchownSync(p, rng.int(70000), rng.int(70000));
  return made;
}

/** Writes `pieces` into a sparse file of `size` bytes (holes elsewhere). */
export function writeSparse(file: string, size: number, pieces: { offset: number; data: Buffer }[]): void {
  const fd = openSync(file, 'w');
  try {
    for (const p of pieces) writeSync(fd, p.data, 0, p.data.length, p.offset);
  } finally {
    closeSync(fd);
  }
  truncateSync(file, size);
}
