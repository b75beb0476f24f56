// Big layers through the ext4 writer: 100k small files, one 50k-entry directory (two-level htree lookups by the
// kernel), a 5 GiB sparse file and a > 4 GiB sparse file. Every image is e2fsck-clean and stays a small sparse file;
// as root the mounted content matches the fixture's counts and sampled digests (sparse regions included).
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildExt4Chain } from '../../../indexer/ext4/build-chain.js';
import type { Ext4Delta } from '../../../src/format/ext4/delta-types.js';
import { missingNeeds } from '../../helpers/capabilities.js';
import { debugfs, fsck, materialize, withMount } from '../../helpers/ext4-image.js';
import { hugeFileLayer, manySmallFilesLayer, sparseFileLayer, wideDirectoryLayer } from '../../helpers/images.js';
import type { LayerFixture } from '../../helpers/images.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const noTools = missingNeeds({ commands: ['e2fsck', 'debugfs'] });
const noRoot = missingNeeds({ root: true, commands: ['mount'] });
const DEVICE = 64 * 2 ** 30;

function regionSha(file: string, offset: number, length: number): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return createHash('sha256').update(buf.subarray(0, done)).digest('hex');
  } finally {
    closeSync(fd);
  }
}

async function fileSha(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const CASES: [name: string, make: () => Promise<LayerFixture>][] = [
  ['100k small files', () => manySmallFilesLayer()],
  ['a 50k-entry directory', () => wideDirectoryLayer()],
  ['a 5 GiB sparse file', () => sparseFileLayer()],
  ['a sparse file over 4 GiB', () => hugeFileLayer()],
];

describe.skipIf(noTools)('ext4 writer on big layers', () => {
  const dir = makeTempDir('turbo-ext4-big-');

  for (const [name, make] of CASES) {
    it(`${name}: e2fsck clean, small image, content as expected`, async () => {
      const fixture = await make();
      const deltas: Ext4Delta[] = [];
      for await (const d of buildExt4Chain(1, () => createReadStream(fixture.tarPath, { highWaterMark: 1 << 20 }), { deviceBytes: DEVICE })) deltas.push(d);
      const image = path.join(dir, 'big.img');
      await materialize(deltas, () => createReadStream(fixture.tarPath, { highWaterMark: 1 << 20 }), image);
      const r = await fsck(image);
      expect(r.status, r.output).toBe(0);
      const e = fixture.expectation;
      // e2fsck's summary "<used>/<total> files": tar files, dirs and symlinks + reserved inodes 1..10 (root is 2) + lost+found.
      const used = Number(/: (\d+)\/\d+ files/.exec(r.output)![1]);
      expect(used).toBe(e.regularFiles + e.directories + e.symlinks + 10 + 1);
      // The image is sparse: allocated bytes stay near metadata + file data, never the 64 GiB device.
      const st = statSync(image);
      expect(st.blocks * 512).toBeLessThan(statSync(fixture.tarPath).size + 64 * 2 ** 20);
      for (const s of e.samples) {
        const stat = await debugfs(image, `stat "/${s.path}"`);
        expect(stat, s.path).toContain(`Size: ${s.size}`);
      }
      if (!noRoot) {
        await withMount(image, async (mnt) => {
          for (const s of e.samples) {
            const file = path.join(mnt, s.path);
            expect(statSync(file).size).toBe(s.size);
            if (s.sha256) expect(await fileSha(file), s.path).toBe(s.sha256);
            for (const region of s.dataRegions ?? []) expect(regionSha(file, region.offset, region.length), `${s.path}@${region.offset}`).toBe(region.sha256);
          }
        });
      }
      rmSync(image);
    });
  }
});
