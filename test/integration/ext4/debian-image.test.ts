// The Debian fixture image (4 layers: whiteouts, opaque dir, hardlink to a lower-layer file): every layer prefix
// materializes to an e2fsck-clean image that, mounted read-only, equals `umoci unpack` of the same prefix.
// The CLI (`turbo-index ext4 materialize` on the gzip blobs, `ext4 deltas --json`) is exercised end to end.
import { execFile } from 'node:child_process';
import { createReadStream, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExt4Chain } from '../../../indexer/ext4/build-chain.js';
import { DEFAULT_EXT4_DEVICE_BYTES } from '../../../src/defaults.js';
import type { Ext4Delta } from '../../../src/format/ext4/delta-types.js';
import { encodeExt4Delta } from '../../../src/format/ext4/delta-codec.js';
import { missingNeeds } from '../../helpers/capabilities.js';
import { fsck, materialize, withMount } from '../../helpers/ext4-image.js';
import { blobPath, compareTrees, DEBIAN_LAYER_COUNT, debianImage, expectedTree } from '../../helpers/images.js';
import type { DebianImage } from '../../helpers/images.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const skip = missingNeeds({ root: true, commands: ['debootstrap', 'umoci', 'skopeo', 'e2fsck', 'mount', 'python3'] });

describe.skipIf(skip)('ext4 deltas of the Debian image', () => {
  const dir = makeTempDir('turbo-ext4-debian-');
  let img: DebianImage;
  const deltas: Ext4Delta[] = [];

  beforeAll(async () => {
    img = await debianImage();
    const paths = img.layers.map((l) => l.uncompressedTarPath);
    for await (const d of buildExt4Chain(paths.length, (i) => createReadStream(paths[i]!), { deviceBytes: DEFAULT_EXT4_DEVICE_BYTES })) deltas.push(d);
  });

  it('upper deltas are small next to the compressed layers they describe', () => {
    expect(deltas).toHaveLength(DEBIAN_LAYER_COUNT);
    const base = encodeExt4Delta(deltas[0]!).length;
    expect(base / img.layers[0]!.size).toBeLessThan(0.02);
    for (const d of deltas.slice(1)) expect(encodeExt4Delta(d).length).toBeLessThan(base);
  });

  for (let k = 1; k <= DEBIAN_LAYER_COUNT; k++) {
    it(`prefix ${k}: e2fsck clean and equal to umoci unpack when mounted`, async () => {
      const image = path.join(dir, `prefix-${k}.img`);
      await materialize(deltas.slice(0, k), (i) => createReadStream(img.layers[i]!.uncompressedTarPath), image);
      const r = await fsck(image);
      expect(r.status, r.output).toBe(0);
      const want = await expectedTree(await img.unpackedRoot(k));
      const diffs = await withMount(image, async (mnt) => compareTrees(want, await expectedTree(mnt)));
      expect(diffs).toEqual([]);
      rmSync(image);
    });
  }

  it('the CLI materializes the gzip layer blobs and reports deltas', async () => {
    const blobs = img.layers.map((l) => blobPath(img.layoutDir, l.digest));
    const image = path.join(dir, 'cli.img');
    await exec('node', [CLI, 'ext4', 'materialize', ...blobs.flatMap((b) => ['--layer', b]), '-o', image]);
    const r = await fsck(image);
    expect(r.status, r.output).toBe(0);
    rmSync(image);
    const { stdout } = await exec('node', [CLI, 'ext4', 'deltas', ...blobs.flatMap((b) => ['--layer', b]), '--json']);
    const report = JSON.parse(stdout) as { deviceBytes: number; layers: { metadataBlocks: number; dataExtents: number; zeroRanges: number; deltaBytes: number }[] };
    expect(report.deviceBytes).toBe(DEFAULT_EXT4_DEVICE_BYTES);
    expect(report.layers.map((l) => [l.metadataBlocks, l.dataExtents, l.zeroRanges, l.deltaBytes])).toEqual(
      deltas.map((d) => [d.metadata.size, d.dataExtents.length, d.zeroRanges.length, encodeExt4Delta(d).length]),
    );
  });
});
