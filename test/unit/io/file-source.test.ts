// Local layer files: positional reads, chunk streams with read-ahead, early stop, missing files, index file I/O.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { ImageError } from '../../../src/errors.js';
import { FileSource, fileChunks } from '../../../src/io/file-source.js';
import { readSeekIndexFile, writeSeekIndexFile } from '../../../src/io/seek-index-file.js';
import type { SeekIndex } from '../../../src/format/seek-index.js';
import { SeededRandom } from '../../helpers/random.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const dir = makeTempDir('file-source-');
const data = new SeededRandom('file-source').bytes(300_001);
const file = path.join(dir, 'layer.bin');
writeFileSync(file, data);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ImageError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('FileSource and fileChunks', () => {
  it('reads exact ranges and clamps at the end of the file', async () => {
    const src = await FileSource.open(file);
    expect(src.size).toBe(data.length);
    expect((await src.read(1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true);
    expect((await src.read(data.length - 10, 100)).equals(data.subarray(data.length - 10))).toBe(true);
    expect((await src.read(data.length + 5, 10)).length).toBe(0);
    await src.close();
    await src.close();
  });

  it('streams the whole file in chunks of the requested size', async () => {
    const parts: Buffer[] = [];
    for await (const c of fileChunks(file, 65_536)) parts.push(c);
    expect(parts.slice(0, -1).every((p) => p.length === 65_536)).toBe(true);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('closes cleanly when the consumer stops early', async () => {
    let n = 0;
    for await (const c of fileChunks(file, 1000)) {
      expect(c.length).toBe(1000);
      if (++n === 3) break;
    }
    expect(n).toBe(3);
  });

  it('maps a missing file to NOT_FOUND', async () => {
    expect(await codeOf(FileSource.open(path.join(dir, 'absent')))).toBe('NOT_FOUND');
    expect(await codeOf((async () => { for await (const c of fileChunks(path.join(dir, 'absent'))) void c; })())).toBe('NOT_FOUND');
    expect(await codeOf(readSeekIndexFile(path.join(dir, 'absent.idx')))).toBe('NOT_FOUND');
  });

  it('writes and reads back a seek index file atomically', async () => {
    const index: SeekIndex = {
      identity: true, spanBytes: 1 << 20, windowBytes: 32768, windowLevel: 3, compressedBytes: 5, uncompressedBytes: 5,
      trailingZeroBytes: 0, members: 0, layerSha256: Buffer.alloc(32, 7), points: [],
    };
    const target = path.join(dir, 'x.idx');
    const bytes = await writeSeekIndexFile(target, index);
    const back = await readSeekIndexFile(target);
    expect(back.bytes).toBe(bytes);
    expect(back.index).toEqual(index);
    writeFileSync(target, Buffer.from('garbage'));
    expect(await codeOf(readSeekIndexFile(target))).toBe('CORRUPT');
  });
});
