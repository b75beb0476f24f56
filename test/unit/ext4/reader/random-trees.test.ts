// Property: for random trees (dirs, files of edge sizes, symlinks, hardlinks, modes, owners, times), the ext4 reader
// over `mke2fs -d` of the tree describes exactly the tree (bytes, stat fields, targets, hardlinks, listings).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openExt4 } from '../../../../src/ext4/reader/ext4-volume.js';
import { missingNeeds } from '../../../helpers/capabilities.js';
import { diffWithSource, imageDevice, mkfsFromTree, writeRandomTree } from '../../../helpers/ext4-reader-fixture.js';
import { PROPERTY_SEED, SeededRandom } from '../../../helpers/random.js';
import { makeTempDir } from '../../../helpers/tmpdir.js';

describe.skipIf(missingNeeds({ commands: ['mke2fs', 'e2fsck', 'python3'] }))('ext4 reader on random trees', { timeout: 900_000 }, () => {
  const work = makeTempDir('turbo-ext4-prop-');
  let run = 0;

  it('reads back every random tree exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 60 }), async (seed, entries) => {
        const dir = path.join(work, `t${run++}`);
        const src = path.join(dir, 'src');
        mkdirSync(src, { recursive: true });
        writeRandomTree(src, new SeededRandom(seed), entries);
        const image = path.join(dir, 'img');
        await mkfsFromTree(src, image, 8);
        const vol = await openExt4(await imageDevice(image));
        try {
          expect(await diffWithSource(src, vol)).toEqual([]);
        } finally {
          await vol.close();
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 10 },
    );
  });
});
