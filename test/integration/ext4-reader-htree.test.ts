// ext4 reader htree lookups under every hash (legacy, half_md4, tea; signed and unsigned chars), a two-level
// index on 1 KiB blocks, and a > 4 GiB sparse file: all checked against the source tree and debugfs.
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openExt4, type Ext4Volume } from '../../src/ext4/reader/ext4-volume.js';
import { isImageError } from '../../src/errors.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { debugfsCommands, diffWithSource, imageDevice, mkfsFromTree, optimizeDirs, writeSparse } from '../helpers/ext4-reader-fixture.js';
import { run } from '../helpers/images/run.js';
import { SeededRandom } from '../helpers/random.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const skip = missingNeeds({ commands: ['mke2fs', 'e2fsck', 'debugfs', 'tune2fs', 'python3'] });

/** A directory of `count` names of `nameLen` bytes, a quarter with non-ASCII bytes (signed/unsigned hashes differ). */
function writeDir(dir: string, rng: SeededRandom, count: number, nameLen: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const tail = i % 4 === 0 ? '\u00e4\u00f6\u4e16' : '';
    const head = `${i}-${rng.bytes(8).toString('hex')}${tail}`;
    writeFileSync(path.join(dir, head + 'n'.repeat(Math.max(0, nameLen - Buffer.byteLength(head)))), i % 3 === 0 ? rng.bytes(i) : '');
  }
}

/** Every name of `srcDir` is listed by readdir and found by lookup (same inode), with the source's size and mode. */
async function expectSameNames(vol: Ext4Volume, srcDir: string, dir: string): Promise<void> {
  const listed = new Map((await vol.readdir(dir)).map((e) => [e.name, e.ino]));
  const names = readdirSync(srcDir);
  expect([...listed.keys()].sort()).toEqual([...names].sort());
  for (const name of names) {
    const st = await vol.lstat(`${dir}/${name}`);
    const want = lstatSync(path.join(srcDir, name));
    expect({ ino: st.ino, size: st.size, mode: st.mode }, name).toEqual({ ino: listed.get(name), size: want.size, mode: want.mode });
  }
}

// Generous timeouts: the machine is shared; these tests must not fail on timing.
describe.skipIf(skip)('ext4 reader: htree hashes and large files', { timeout: 900_000 }, () => {
  const work = makeTempDir('turbo-ext4-htree-');

  for (const [alg, unsigned, version] of [
    ['tea', true, 2],
    ['legacy', false, 0],
    ['half_md4', true, 1],
  ] as const) {
    it(`looks up every name of an htree directory hashed with ${alg} (${unsigned ? 'unsigned' : 'signed'} chars)`, async () => {
      const src = path.join(work, `src-${alg}`);
      writeDir(path.join(src, 'dir'), new SeededRandom(`htree-${alg}`), 700, 40);
      const image = path.join(work, `${alg}.img`);
      await mkfsFromTree(src, image, 32);
      await run('tune2fs', ['-E', `hash_alg=${alg}`, image]);
      if (unsigned) await debugfsCommands(image, ['ssv flags 2'], true);
      await optimizeDirs(image);
      const dump = await debugfsCommands(image, ['htree /dir']);
      expect(dump).toContain(`Hash Version: ${version}`);
      expect((await debugfsCommands(image, ['stats'])).includes('unsigned_directory_hash')).toBe(unsigned);
      const vol = await openExt4(await imageDevice(image));
      await expectSameNames(vol, path.join(src, 'dir'), '/dir');
      const missing = await vol.lstat('/dir/not-there').catch((e: unknown) => e);
      expect(isImageError(missing, 'NOT_FOUND')).toBe(true);
      await vol.close();
    });
  }

  it('walks a two-level htree on 1 KiB blocks (first data block 1)', async () => {
    const src = path.join(work, 'src-1k');
    writeDir(path.join(src, 'wide'), new SeededRandom('htree-1k'), 800, 230);
    const image = path.join(work, '1k.img');
    await mkfsFromTree(src, image, 32, [], 1024);
    expect(await debugfsCommands(image, ['htree /wide'])).toMatch(/Indirect levels: 1/);
    const vol = await openExt4(await imageDevice(image));
    expect(vol.blockBytes).toBe(1024);
    expect(await diffWithSource(src, vol)).toEqual([]);
    await vol.close();
  });

  it('reads a sparse file larger than 4 GiB at offsets beyond 4 GiB', async () => {
    const src = path.join(work, 'src-huge');
    mkdirSync(src);
    const rng = new SeededRandom('huge');
    const size = 5 * 1024 ** 3 + 4321;
    const pieces = [0, 4 * 1024 ** 3 - 100, 4 * 1024 ** 3 + 12345, size - 5000].map((offset) => ({ offset, data: rng.bytes(5000) }));
    writeSparse(path.join(src, 'huge'), size, pieces);
    const image = path.join(work, 'huge.img');
    await mkfsFromTree(src, image, 32);
    const vol = await openExt4(await imageDevice(image));
    const st = await vol.stat('/huge');
    expect(st.size).toBe(size);
    expect(st.blocks).toBe(Number(/Blockcount: (\d+)/.exec(await debugfsCommands(image, ['stat /huge']))![1]));
    const fd = openSync(path.join(src, 'huge'), 'r');
    try {
      for (const off of [0, 4 * 1024 ** 3 - 200, 4 * 1024 ** 3 + 12000, 2 ** 32, 4.5 * 1024 ** 3, size - 6000, size - 1]) {
        const want = Buffer.alloc(Math.min(9000, size - off));
        readSync(fd, want, 0, want.length, off);
        expect((await vol.read('/huge', off, 9000)).equals(want), `@${off}`).toBe(true);
      }
    } finally {
      closeSync(fd);
    }
    await vol.close();
  });
});
