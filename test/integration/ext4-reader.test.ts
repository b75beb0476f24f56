// ext4 reader against mke2fs -d images of a generated tree: every file, stat, link, xattr and listing equals the
// source tree and debugfs; htree (1 and 2 levels), sparse, uninitialized extents, devices, errors by code.
import { mkdirSync, symlinkSync, writeFileSync, chmodSync, linkSync, lchownSync, lutimesSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isImageError } from '../../src/errors.js';
import { openExt4, type Ext4Volume } from '../../src/ext4/reader/ext4-volume.js';
import { missingNeeds, hasRoot } from '../helpers/capabilities.js';
import { debugfsCommands, diffWithSource, imageDevice, mkfsFromTree, pythonFsOps, writeSparse } from '../helpers/ext4-reader-fixture.js';
import { SeededRandom } from '../helpers/random.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { readFileSync } from 'node:fs';

const skip = missingNeeds({ commands: ['mke2fs', 'e2fsck', 'debugfs', 'python3'] });

/** The tree: nested dirs, sizes, sparse, htree dirs, symlinks of 59/60/61/300 chars, xattrs, hardlinks. */
function writeTree(root: string, rng: SeededRandom): void {
  const mk = (p: string): string => {
    mkdirSync(path.join(root, p), { recursive: true });
    return path.join(root, p);
  };
  mk('a/b/c/d/e');
  writeFileSync(path.join(root, 'a/b/c/d/e/deep.txt'), 'deep\n');
  mk('sizes');
  for (const n of [0, 1, 4095, 4096, 4097, 3 * 1024 * 1024 + 123, 9 * 1024 * 1024]) writeFileSync(path.join(root, `sizes/f-${n}`), rng.bytes(n));
  mk('sparse');
  writeSparse(path.join(root, 'sparse/small'), 20 * 1024 * 1024, [
    { offset: 0, data: rng.bytes(100) },
    { offset: 5 * 1024 * 1024 + 3, data: rng.bytes(8192) },
    { offset: 20 * 1024 * 1024 - 7, data: rng.bytes(7) },
  ]);
  writeSparse(path.join(root, 'sparse/fragmented'), 300 * 65536, Array.from({ length: 300 }, (_, i) => ({ offset: i * 65536, data: rng.bytes(4096) })));
  writeSparse(path.join(root, 'sparse/prealloc'), 1024 * 1024, []);
  mk('big');
  for (let i = 0; i < 5000; i++) {
    const name = `e${i}-${rng.bytes(4).toString('hex')}${i % 7 === 0 ? '-\u00fc\u00df\u65e5' : ''}`;
    if (i % 50 === 0) mk(`big/${name}`);
    else if (i % 100 === 1) symlinkSync(`target-${i}`, path.join(root, 'big', name));
    else writeFileSync(path.join(root, 'big', name), i % 10 === 0 ? rng.bytes(i) : '');
  }
  mk('links');
  for (const n of [59, 60, 61, 300]) symlinkSync(`${'x/'.repeat(n)}`.slice(0, n - 1) + 'y', path.join(root, `links/s${n}`));
  symlinkSync('../sizes/f-4097', path.join(root, 'links/rel'));
  symlinkSync('/sizes/f-1', path.join(root, 'links/abs'));
  symlinkSync('/a/b', path.join(root, 'links/dirlink'));
  symlinkSync('loop2', path.join(root, 'links/loop1'));
  symlinkSync('loop1', path.join(root, 'links/loop2'));
  symlinkSync('nowhere', path.join(root, 'links/dangling'));
  symlinkSync('rel', path.join(root, 'links/chain'));
  mk('xattrs/dir');
  writeFileSync(path.join(root, 'xattrs/small'), 'x');
  writeFileSync(path.join(root, 'xattrs/big'), 'y');
  writeFileSync(path.join(root, 'xattrs/acl'), 'acl');
  mk('hard');
  writeFileSync(path.join(root, 'hard/h1'), rng.bytes(5000));
  linkSync(path.join(root, 'hard/h1'), path.join(root, 'hard/h2'));
  linkSync(path.join(root, 'sizes/f-4096'), path.join(root, 'hard/h3'));
  mk('perm/sticky');
  chmodSync(path.join(root, 'perm/sticky'), 0o1777);
  for (const [n, m] of [['suid', 0o4755], ['sgid', 0o2711], ['none', 0o000]] as const) {
    writeFileSync(path.join(root, `perm/${n}`), n);
    chmodSync(path.join(root, `perm/${n}`), m);
  }
  writeFileSync(path.join(root, 'perm/big-ids'), 'ids');
  lchownSync(path.join(root, 'perm/big-ids'), 4_000_000_000, 100_000);
  lchownSync(path.join(root, 'links/s61'), 1234, 5678);
  lutimesSync(path.join(root, 'perm/suid'), 2_000_000_000, 1_234_567_890);
}

/** Decodes debugfs's \\xHH escapes of non-ASCII name bytes. */
function debugfsName(s: string): string {
  return Buffer.from(s.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

/** A POSIX ACL in the VFS xattr format (version 2; entries tag, perm, id; id -1 for the *_OBJ/MASK/OTHER tags). */
function vfsAcl(entries: [tag: number, perm: number, id?: number][]): Buffer {
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(tag, 4 + 8 * i);
    b.writeUInt16LE(perm, 6 + 8 * i);
    b.writeUInt32LE(id ?? 0xffffffff, 8 + 8 * i);
  });
  return b;
}

let work: string;
let image: string;
let src: string;
let vol: Ext4Volume;

// Generous timeouts: the machine is shared; these tests must not fail on timing.
describe.skipIf(skip)('ext4 reader on an mke2fs -d image', { timeout: 900_000 }, () => {
  beforeAll(async () => {
    work = makeTempDir('turbo-ext4-reader-');
    src = path.join(work, 'src');
    image = path.join(work, 'img');
    mkdirSync(src);
    writeTree(src, new SeededRandom('ext4-reader-tree'));
    const xattrs: [string, string, Buffer][] = [
      [path.join(src, 'xattrs/small'), 'user.a', Buffer.from('alpha')],
      [path.join(src, 'xattrs/small'), 'trusted.t', Buffer.from([0, 1, 2, 255])],
      [path.join(src, 'xattrs/small'), 'security.s', Buffer.from('sec')],
      [path.join(src, 'xattrs/dir'), 'user.d', Buffer.alloc(0)],
      [path.join(src, 'xattrs/acl'), 'system.posix_acl_access', vfsAcl([[1, 6], [2, 5, 1000], [4, 4], [8, 7, 4_000_000_000], [0x10, 7], [0x20, 0]])],
      [path.join(src, 'xattrs/dir'), 'system.posix_acl_default', vfsAcl([[1, 7], [4, 5], [0x20, 5]])],
      ...Array.from({ length: 20 }, (_, i): [string, string, Buffer] => [path.join(src, 'xattrs/big'), `user.k${i}`, Buffer.alloc(100, i)]),
    ];
    await pythonFsOps({ xattrs, nodes: hasRoot ? [[path.join(src, 'char-big'), 'char', 259, 70000], [path.join(src, 'blk'), 'block', 8, 17]] : [] });
    await new Promise<void>((r, j) => import('node:child_process').then(({ execFile }) => execFile('mkfifo', [path.join(src, 'fifo')], (e) => (e ? j(e) : r()))));
    await mkfsFromTree(src, image, 96);
    await debugfsCommands(image, ['mkdir /devs', 'cd /devs', 'mknod c-old c 1 3', 'mknod c-new c 300 5', 'mknod b-old b 8 1', 'fallocate /sparse/prealloc 16 200'], true);
    vol = await openExt4(await imageDevice(image));
  }, 900_000);
  afterAll(async () => vol?.close());

  it('the 5000-entry directory really is an htree', async () => {
    expect(await debugfsCommands(image, ['htree /big'])).toContain('Root node dump');
    expect((await vol.readdir('/big')).length).toBe(5000);
  });

  it('every path, byte, stat field, link target, xattr and listing equals the source tree', async () => {
    expect(await diffWithSource(src, vol, { ignorePaths: ['/devs'] })).toEqual([]);
  });

  it('stat fields equal debugfs stat (ids, size, links, i_blocks, times with nanoseconds, devices)', async () => {
    const paths = ['/', '/sizes/f-4097', '/sizes/f-9437184', '/sparse/small', '/sparse/fragmented', '/links/s59', '/links/s300', '/perm/big-ids', '/perm/suid', '/hard/h1', '/big', '/devs/c-old', '/devs/c-new', '/devs/b-old', '/fifo', '/xattrs/big'];
    if (hasRoot) paths.push('/char-big', '/blk');
    for (const p of paths) {
      const out = await debugfsCommands(image, [`stat ${p}`]);
      const st = await vol.lstat(p);
      const num = (re: RegExp): number => Number(re.exec(out)![1]);
      expect(st.ino, p).toBe(num(/Inode: (\d+)/));
      expect(st.mode & 0o7777, p).toBe(parseInt(/Mode:\s+(\d+)/.exec(out)![1]!, 8));
      expect(st.uid >>> 0, p).toBe(num(/User:\s+(-?\d+)/) >>> 0);
      expect(st.gid, p).toBe(num(/Group:\s+(\d+)/));
      expect(st.size, p).toBe(num(/Size: (\d+)/));
      expect(st.nlink, p).toBe(num(/Links: (\d+)/));
      expect(st.blocks, p).toBe(num(/Blockcount: (\d+)/));
      for (const [field, key] of [['ctime', 'ctime'], ['atime', 'atime'], ['mtime', 'mtime'], ['crtime', 'crtime']] as const) {
        const m = new RegExp(`\\b${key}: 0x([0-9a-f]+):([0-9a-f]+)`).exec(out)!;
        const extra = parseInt(m[2]!, 16);
        expect(st[field]!.sec, `${p} ${field}`).toBe(parseInt(m[1]!, 16) | 0 || parseInt(m[1]!, 16) + (extra & 3) * 2 ** 32);
        expect(st[field]!.nsec, `${p} ${field}`).toBe(extra >>> 2);
      }
      const dev = /major\/minor number: (\d+):(\d+)/.exec(out);
      if (dev) expect(st.rdev, p).toEqual({ major: Number(dev[1]), minor: Number(dev[2]) });
    }
    expect((await vol.lstat('/devs/c-new')).rdev).toEqual({ major: 300, minor: 5 });
    expect((await vol.lstat('/devs/b-old')).type).toBe('block');
    expect((await vol.lstat('/fifo')).type).toBe('fifo');
    if (hasRoot) expect((await vol.lstat('/char-big')).rdev).toEqual({ major: 259, minor: 70000 });
  });

  it('directory listings equal debugfs ls (names and inode numbers), htree included', async () => {
    for (const dir of ['/', '/big', '/links', '/devs']) {
      const out = await debugfsCommands(image, [`ls -l ${dir}`]);
      const want = out
        .split('\n')
        .map((l) => /^\s*(\d+)\s+\d+\s+\(\d+\)\s+-?\d+\s+\d+\s+\d+\s+\S+\s+\S+\s+(.+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && m[2] !== '.' && m[2] !== '..')
        .map((m) => `${m[1]} ${debugfsName(m[2]!)}`)
        .sort();
      const have = (await vol.readdir(dir)).map((e) => `${e.ino} ${e.name}`).sort();
      expect(have, dir).toEqual(want);
    }
  });

  it('reads arbitrary ranges, holes and unwritten extents as the source file, short at EOF', async () => {
    const rng = new SeededRandom('ext4-reader-ranges');
    for (const p of ['/sizes/f-4097', '/sizes/f-3145851', '/sparse/small', '/sparse/fragmented', '/hard/h1']) {
      const data = readFileSync(path.join(src, p));
      for (let i = 0; i < 40; i++) {
        const off = rng.int(data.length + 10);
        const len = rng.int(i % 2 ? 70_000 : 5000);
        expect((await vol.read(p, off, len)).equals(data.subarray(off, off + len)), `${p} @${off}+${len}`).toBe(true);
      }
    }
    expect((await vol.read('/sizes/f-4096', 4096, 10)).length).toBe(0);
    const stat = await debugfsCommands(image, ['stat /sparse/prealloc']);
    expect(stat).toMatch(/\[u\]|Uninit/);
    expect((await vol.readFile('/sparse/prealloc')).equals(Buffer.alloc(1024 * 1024))).toBe(true);
    expect(await debugfsCommands(image, ['stat /sparse/fragmented'])).toMatch(/ETB0/);
  });

  it('follows symlinks (relative, absolute, chains, through directories) and reports loops, dangling links and wrong types by code', async () => {
    expect(await vol.readlink('/links/s59')).toHaveLength(59);
    expect(await vol.readlink('/links/s300')).toHaveLength(300);
    expect((await vol.stat('/links/chain')).ino).toBe((await vol.stat('/sizes/f-4097')).ino);
    expect((await vol.lstat('/links/chain')).type).toBe('symlink');
    expect(await vol.readFile('/links/abs')).toEqual(readFileSync(path.join(src, 'sizes/f-1')));
    expect((await vol.readFile('/links/dirlink/c/d/e/deep.txt')).toString()).toBe('deep\n');
    expect((await vol.readFile('/a/b/c/../c/./d/e/deep.txt')).toString()).toBe('deep\n');
    expect(await vol.lookup('/..')).toBe(2);
    const code = async (fn: () => Promise<unknown>): Promise<string> => fn().then(() => 'ok', (e: unknown) => (isImageError(e) ? `${e.code}:${String(e.details.errno ?? '')}` : String(e)));
    expect(await code(() => vol.stat('/links/loop1'))).toBe('LIMIT_EXCEEDED:ELOOP');
    expect(await code(() => vol.stat('/links/dangling'))).toBe('NOT_FOUND:ENOENT');
    expect(await code(() => vol.lstat('/links/dangling'))).toBe('ok');
    expect(await code(() => vol.lstat('/big/no-such-name'))).toBe('NOT_FOUND:ENOENT');
        expect(await code(() => vol.readdir('/sizes/f-0'))).toBe('FAILED_PRECONDITION:ENOTDIR');
    expect(await code(() => vol.lstat('/sizes/f-0/x'))).toBe('FAILED_PRECONDITION:ENOTDIR');
    expect(await code(() => vol.lstat('/sizes/f-0/'))).toBe('FAILED_PRECONDITION:ENOTDIR');
    expect(await code(() => vol.readFile('/a'))).toBe('FAILED_PRECONDITION:EISDIR');
    expect(await code(() => vol.readlink('/a'))).toBe('FAILED_PRECONDITION:EINVAL');
    expect(await code(() => vol.getXattr('/xattrs/small', 'user.none'))).toBe('NOT_FOUND:ENODATA');
    const err = await vol.lstat('/a/missing/x').catch((e: unknown) => e);
    expect(isImageError(err, 'NOT_FOUND') && err.details.path).toBe('/a/missing/x');
  });

  it('reads xattrs from the inode and from the external block', async () => {
    expect((await vol.listXattrs('/xattrs/small')).sort()).toEqual(['security.s', 'trusted.t', 'user.a']);
    expect(await vol.getXattr('/xattrs/small', 'trusted.t')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect((await vol.lstat('/xattrs/big')).blocks).toBeGreaterThan(0);
    expect(await debugfsCommands(image, ['stat /xattrs/big'])).toMatch(/File ACL: [1-9]/);
    expect(await vol.getXattr('/xattrs/big', 'user.k19')).toEqual(Buffer.alloc(100, 19));
    // POSIX ACLs come back in the VFS format (ext4 stores a shorter on-disk form).
    const acl = await vol.getXattr('/xattrs/acl', 'system.posix_acl_access');
    expect(acl.readUInt32LE(0)).toBe(2);
    expect(acl.length).toBe(4 + 6 * 8);
    expect(await debugfsCommands(image, ['ea_list /xattrs/acl'])).toContain('system.posix_acl_access');
  });
});
