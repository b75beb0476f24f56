// The ext4 reader refuses damaged and unsupported images by code: each flipped structure is reported as CORRUPT
// with the block/inode that holds it, unknown incompat features as UNSUPPORTED with their names.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, openSync, writeSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isImageError, type ImageError } from '../../../../src/errors.js';
import { openExt4 } from '../../../../src/ext4/reader/ext4-volume.js';
import { crc32cRaw } from '../../../../src/format/ext4/crc32c.js';
import { missingNeeds } from '../../../helpers/capabilities.js';
import { debugfsCommands, imageDevice, mkfsFromTree, pythonFsOps, writeSparse } from '../../../helpers/ext4-reader-fixture.js';
import { SeededRandom } from '../../../helpers/random.js';
import { makeTempDir } from '../../../helpers/tmpdir.js';

const skip = missingNeeds({ commands: ['mke2fs', 'e2fsck', 'debugfs', 'python3'] });

let work: string;
let base: string;
let n = 0;

/** A copy of the base image with `edit` applied to its bytes at `offset`. */
function damaged(edit: (b: Buffer) => void, offset: number, length: number): string {
  const file = path.join(work, `bad-${n++}`);
  copyFileSync(base, file);
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(length);
  readSync(fd, b, 0, length, offset);
  edit(b);
  writeSync(fd, b, 0, length, offset);
  closeSync(fd);
  return file;
}

/** Flips one byte at `offset`. */
function flipped(offset: number): string {
  return damaged((b) => (b[0] = b[0]! ^ 0x5a), offset, 1);
}

async function failure(image: string, op: (v: Awaited<ReturnType<typeof openExt4>>) => Promise<unknown>): Promise<ImageError> {
  const dev = await imageDevice(image);
  try {
    await op(await openExt4(dev));
  } catch (err) {
    if (isImageError(err)) return err;
    throw err;
  } finally {
    await dev.close();
  }
  throw new Error('expected an ImageError');
}

describe.skipIf(skip)('ext4 reader: corrupt and unsupported images', { timeout: 600_000 }, () => {
  beforeAll(async () => {
    work = makeTempDir('turbo-ext4-corrupt-');
    const src = path.join(work, 'src');
    const rng = new SeededRandom('ext4-corrupt');
    mkdirSync(path.join(src, 'd'), { recursive: true });
    for (let i = 0; i < 400; i++) writeFileSync(path.join(src, 'd', `name-${i}-${rng.bytes(4).toString('hex')}`), '');
    writeFileSync(path.join(src, 'f'), rng.bytes(4097));
    writeFileSync(path.join(src, 'x'), 'x');
    writeSparse(path.join(src, 'frag'), 40 * 65536, Array.from({ length: 40 }, (_, i) => ({ offset: i * 65536, data: rng.bytes(4096) })));
    await pythonFsOps({ xattrs: Array.from({ length: 20 }, (_, i): [string, string, Buffer] => [path.join(src, 'x'), `user.k${i}`, Buffer.alloc(100, i)]) });
    base = path.join(work, 'base.img');
    await mkfsFromTree(src, base, 16);
    const vol = await openExt4(await imageDevice(base));
    expect((await vol.readdir('/d')).length).toBe(400);
    expect((await vol.readFile('/frag')).length).toBe(40 * 65536);
    await vol.close();
  }, 600_000);

  it('a flipped inode table byte: CORRUPT naming the inode and block', async () => {
    const m = /Inode (\d+) is part of block group \d+\s+located at block (\d+), offset 0x([0-9a-f]+)/.exec(await debugfsCommands(base, ['imap /f']))!;
    const [ino, block, off] = [Number(m[1]), Number(m[2]), parseInt(m[3]!, 16)];
    const err = await failure(flipped(block * 4096 + off + 4), (v) => v.lstat('/f'));
    expect(err.code).toBe('CORRUPT');
    expect(err.details).toMatchObject({ inode: ino, block });
  });

  it('a flipped directory leaf byte and a flipped htree root byte: CORRUPT naming the block', async () => {
    expect(await debugfsCommands(base, ['htree /d'])).toContain('Root node dump');
    const blocks = (await debugfsCommands(base, ['blocks /d'])).split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
    const leaf = blocks[1]!;
    const err = await failure(flipped(leaf * 4096 + 40), (v) => v.readdir('/d'));
    expect(err.code).toBe('CORRUPT');
    expect(err.details.block).toBe(leaf);
    const root = blocks[0]!;
    const rootErr = await failure(flipped(root * 4096 + 0x2c), (v) => v.lstat('/d/name-1'));
    expect(rootErr.code).toBe('CORRUPT');
    expect(rootErr.details.block).toBe(root);
  });

  it('a flipped extent tree block byte: CORRUPT naming the block', async () => {
    const etb = Number(/\(ETB0\):(\d+)/.exec(await debugfsCommands(base, ['stat /frag']))![1]);
    const err = await failure(flipped(etb * 4096 + 30), (v) => v.read('/frag', 0, 4096));
    expect(err.code).toBe('CORRUPT');
    expect(err.details.block).toBe(etb);
  });

  it('a flipped xattr block byte: CORRUPT naming the block', async () => {
    const acl = Number(/File ACL: (\d+)/.exec(await debugfsCommands(base, ['stat /x']))![1]);
    expect(acl).toBeGreaterThan(0);
    const err = await failure(flipped(acl * 4096 + 200), (v) => v.listXattrs('/x'));
    expect(err.code).toBe('CORRUPT');
    expect(err.details.block).toBe(acl);
  });

  it('a flipped superblock or group descriptor byte: CORRUPT at open', async () => {
    expect((await failure(flipped(1024 + 0x100), async () => undefined)).code).toBe('CORRUPT');
    const gd = await failure(flipped(4096 + 0x0c), async () => undefined);
    expect(gd.code).toBe('CORRUPT');
    expect(gd.details.group).toBe(0);
    const zero = path.join(work, 'zero.img');
    writeFileSync(zero, Buffer.alloc(1 << 20));
    expect((await failure(zero, async () => undefined)).message).toMatch(/magic/);
  });

  it('unknown incompat features: UNSUPPORTED listing them', async () => {
    const withFeatures = (bits: number): string =>
      damaged(
        (sb) => {
          sb.writeUInt32LE((sb.readUInt32LE(0x60) | bits) >>> 0, 0x60);
          sb.writeUInt32LE(crc32cRaw(0xffffffff, sb, 0, 0x3fc), 0x3fc);
        },
        1024,
        1024,
      );
    const err = await failure(withFeatures(0x10000 | 0x80000000), async () => undefined);
    expect(err.code).toBe('UNSUPPORTED');
    expect(String(err.details.features).split(',')).toEqual(['encrypt', '0x80000000']);
    expect((await failure(withFeatures(0x4), async () => undefined)).details.features).toBe('needs_recovery');
    expect(readFileSync(base).length).toBe(16 << 20);
  });
});
