// FileBlockDevice: exact positional reads of a raw image, whole-block size, coded errors outside the device.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { FileBlockDevice } from '../../../src/io/file-block-device.js';
import { SeededRandom } from '../../helpers/random.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const dir = makeTempDir('turbo-fbd-');

describe('FileBlockDevice', () => {
  it('reads any range equal to the file, rounds the size down to whole blocks, and rejects outside ranges', async () => {
    const rnd = new SeededRandom('file-block-device');
    const data = rnd.bytes(3 * 4096 + 100);
    const file = path.join(dir, 'img');
    writeFileSync(file, data);
    const dev = await FileBlockDevice.open(file);
    expect([dev.sizeBytes, dev.blockBytes]).toEqual([3 * 4096, 4096]);
    for (let i = 0; i < 200; i++) {
      const offset = rnd.int(dev.sizeBytes);
      const length = rnd.int(dev.sizeBytes - offset + 1);
      expect((await dev.read(offset, length)).equals(data.subarray(offset, offset + length))).toBe(true);
    }
    await expect(dev.read(dev.sizeBytes - 1, 2)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(dev.read(-1, 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(dev.read(0.5, 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await dev.close();
    await dev.close();
    await expect(dev.read(0, 1)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('NOT_FOUND for a missing file, INVALID_ARGUMENT for one smaller than a block', async () => {
    await expect(FileBlockDevice.open(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const small = path.join(dir, 'small');
    writeFileSync(small, Buffer.alloc(100));
    await expect(FileBlockDevice.open(small)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
