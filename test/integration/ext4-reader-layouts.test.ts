// The ext4 reader on other on-disk layouts mke2fs makes: 128-byte inodes (16-bit checksums, no nanoseconds),
// ext2 block maps with double/triple indirect blocks on 1 KiB blocks, meta_bg descriptors, 32-byte descriptors,
// a journal — each compared with its source tree.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openExt4 } from '../../src/ext4/reader/ext4-volume.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { diffWithSource, imageDevice, optimizeDirs, writeRandomTree, writeSparse } from '../helpers/ext4-reader-fixture.js';
import { run } from '../helpers/images/run.js';
import { SeededRandom } from '../helpers/random.js';
import { makeTempDir } from '../helpers/tmpdir.js';

/** name, mke2fs arguments, image size, a feature list debugfs must show (proves the layout is what the test claims). */
const LAYOUTS: [name: string, args: string[], size: string, features: RegExp][] = [
  ['ext4, 128-byte inodes', ['-t', 'ext4', '-b', '4096', '-I', '128', '-O', '^has_journal'], '64M', /Inode size:\s+128/],
  // Few inodes per group (-N) spread the tree's inodes over many groups and their descriptors.
  ['ext2, 1 KiB blocks, block maps up to triple indirect, inodes in 11 groups', ['-t', 'ext2', '-b', '1024', '-I', '256', '-N', '512'], '128M', /features:\s+ext_attr resize_inode dir_index filetype sparse_super/],
  // 1 MiB groups (-g 1024 on 1 KiB blocks) with 4 inodes each: the tree's ~360 inodes fill ~90 groups, i.e. three
  // meta groups of 32 descriptors.
  ['ext4, meta_bg over three meta groups, 32-byte descriptors, journal', ['-t', 'ext4', '-b', '1024', '-g', '1024', '-N', '1200', '-O', 'meta_bg,^resize_inode,^64bit,^metadata_csum,uninit_bg'], '300M', /has_journal.*meta_bg/],
  ['ext4, 64bit, csum_seed, 2 KiB blocks', ['-t', 'ext4', '-b', '2048', '-O', '64bit,metadata_csum_seed,^has_journal'], '64M', /64bit.*metadata_csum_seed/],
];

describe.skipIf(missingNeeds({ commands: ['mke2fs', 'e2fsck', 'python3'] }))('ext4 reader on other layouts', { timeout: 900_000 }, () => {
  const work = makeTempDir('turbo-ext4-layouts-');
  LAYOUTS.forEach(([name, args, size, features], k) => {
    it(name, async () => {
      const src = path.join(work, `src-${k}`);
      mkdirSync(src);
      const rng = new SeededRandom(`layout-${k}`);
      writeRandomTree(src, rng, 40);
      mkdirSync(path.join(src, 'dir'));
      for (let i = 0; i < 300; i++) writeFileSync(path.join(src, 'dir', `entry-${i}-${'z'.repeat(i % 50)}`), '');
      writeFileSync(path.join(src, 'three-mib'), rng.bytes(3 * 1024 * 1024 + 5));
      writeSparse(path.join(src, 'holey'), 80 * 1024 * 1024, [0, 300 * 1024, 5 * 1024 * 1024 + 1, 70 * 1024 * 1024].map((offset) => ({ offset, data: rng.bytes(3000) })));
      const image = path.join(work, `img-${k}`);
      await run('mke2fs', ['-q', '-F', ...args, '-E', 'root_owner=0:0', '-d', src, image, size]);
      expect(await run('debugfs', ['-R', 'stats', image])).toMatch(features);
      await optimizeDirs(image);
      const vol = await openExt4(await imageDevice(image));
      expect(await diffWithSource(src, vol)).toEqual([]);
      const maxIno = Math.max(...(await vol.readdir('/dir')).map((e) => e.ino));
      if (args.includes('-N')) expect(maxIno, 'inodes beyond the first groups').toBeGreaterThan(k === 1 ? 300 : 128); // ext2: group >= 9 of 32-inode groups; meta_bg: group >= 32 of 4-inode groups (meta group >= 1)
      await vol.close();
    });
  });
});
