// ext4 format code checked against e2fsprogs: crc32c, half-MD4 dir hash (debugfs dx_hash), superblock,
// group descriptors and inodes decoded from an mke2fs image and compared with dumpe2fs/debugfs output.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cRaw } from '../../../../src/format/ext4/crc32c.js';
import { halfMd4Hash } from '../../../../src/format/ext4/dir-hash.js';
import { decodeGroupDescAnySize, groupDescChecksumAnySize } from '../../../../src/format/ext4/group-desc-decode.js';
import { decodeInodeRaw, inodeChecksumAnySize } from '../../../../src/format/ext4/inode-decode.js';
import { checksumSeed, decodeSuperblock, encodeSuperblock } from '../../../../src/format/ext4/superblock.js';
import { missingNeeds } from '../../../helpers/capabilities.js';
import { SeededRandom } from '../../../helpers/random.js';
import { makeTempDir } from '../../../helpers/tmpdir.js';

const noTools = missingNeeds({ commands: ['mke2fs', 'debugfs', 'dumpe2fs'] });

describe('crc32c', () => {
  it('matches the Castagnoli check value and a bitwise reference on random data', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const rnd = new SeededRandom('crc32c');
    for (let n = 0; n < 40; n++) {
      const data = rnd.bytes(rnd.int(300));
      let c = 0xffffffff;
      for (const byte of data) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      expect(crc32cRaw(0xffffffff, data)).toBe(c >>> 0);
    }
  });
});

describe.skipIf(noTools)('ext4 structures against e2fsprogs', () => {
  const dir = makeTempDir('turbo-ext4-format-');
  const img = path.join(dir, 'mke2fs.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-I', '256', '-O', 'metadata_csum,^has_journal,^64bit', '-U', '0e3b2f6a-9c1d-4e58-b7a0-5d6c8f1e2a34', '-E', 'hash_seed=67452301-efcd-ab89-0df0-ad0befbeadde', img, '64M']);
  const dev = readFileSync(img);
  const dumpe2fs = execFileSync('dumpe2fs', [img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const field = (name: string): string => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(dumpe2fs)![1]!.trim();
  const sb = decodeSuperblock(dev.subarray(1024, 2048));

  it('decodes the superblock like dumpe2fs and verifies its checksum', () => {
    expect(sb.magic).toBe(0xef53);
    expect(sb.inodesCount).toBe(Number(field('Inode count')));
    expect(sb.blocksCount).toBe(Number(field('Block count')));
    expect(sb.freeBlocksCount).toBe(Number(field('Free blocks')));
    expect(sb.freeInodesCount).toBe(Number(field('Free inodes')));
    expect(sb.inodesPerGroup).toBe(Number(field('Inodes per group')));
    expect(sb.blocksPerGroup).toBe(Number(field('Blocks per group')));
    expect(sb.firstIno).toBe(Number(field('First inode')));
    expect(sb.inodeSize).toBe(Number(field('Inode size')));
    expect(sb.checksum).toBe(Number(field('Checksum')));
    expect(sb.computedChecksum).toBe(sb.checksum);
    expect(sb.logGroupsPerFlex).toBe(Math.log2(Number(field('Flex block group size'))));
    // Re-encoding the decoded fields reproduces a valid checksum over our subset.
    const again = decodeSuperblock(encodeSuperblock(sb));
    expect(again.computedChecksum).toBe(again.checksum);
  });

  it('decodes group descriptors and recomputes their checksums', () => {
    const groups = Math.ceil(sb.blocksCount / sb.blocksPerGroup);
    for (let g = 0; g < groups; g++) {
      const off = 4096 + 32 * g; // ^64bit: 32-byte descriptors, as our writer uses
      const d = decodeGroupDescAnySize(dev, off, 32);
      const m = new RegExp(`^Group ${g}: .*csum (0x[0-9a-f]+)`, 'm').exec(dumpe2fs)!;
      expect(d.checksum).toBe(Number(m[1]));
      const blockBitmap = new RegExp(`Group ${g}:[\\s\\S]*?Block bitmap at (\\d+)`).exec(dumpe2fs)!;
      expect(d.blockBitmap).toBe(Number(blockBitmap[1]));
      expect(groupDescChecksumAnySize(dev, off, 32, g, checksumSeed(sb.uuid))).toBe(d.checksum);
    }
  });

  it('decodes the root inode like debugfs stat and verifies its checksum', () => {
    const table = Number(/Group 0:[\s\S]*?Inode table at (\d+)/.exec(dumpe2fs)![1]);
    const raw = dev.subarray(table * 4096 + 256, table * 4096 + 512); // inode 2
    const ino = decodeInodeRaw(Buffer.from(raw));
    const stat = execFileSync('debugfs', ['-R', 'stat <2>', img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(ino.mode & 0o7777).toBe(parseInt(/Mode:\s+(\d+)/.exec(stat)![1]!, 8));
    expect(ino.linksCount).toBe(Number(/Links: (\d+)/.exec(stat)![1]));
    expect(ino.size).toBe(Number(/Size: (\d+)/.exec(stat)![1]));
    expect(ino.extraIsize).toBe(Number(/Size of extra inode fields: (\d+)/.exec(stat)![1]));
    expect(ino.storedChecksum).toBe(Number(/Inode checksum: (0x[0-9a-f]+)/.exec(stat)![1]));
    expect(inodeChecksumAnySize(Buffer.from(raw), 2, checksumSeed(sb.uuid))).toBe(ino.storedChecksum);
  });

  it('computes half-MD4 hashes like debugfs dx_hash', () => {
    const seed = new Uint32Array([0x01234567, 0x89abcdef, 0x0badf00d, 0xdeadbeef]);
    const rnd = new SeededRandom('dx-hash');
    const names = ['a', 'lost+found', 'x'.repeat(255), 'ü-ñame', ...Array.from({ length: 12 }, () => `n${rnd.bytes(1 + rnd.int(60)).toString('base64url')}`)];
    for (const name of names) {
      const out = execFileSync('debugfs', ['-R', `dx_hash -h half_md4 -s 67452301-efcd-ab89-0df0-ad0befbeadde ${name}`, img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      const m = /is (0x[0-9a-f]+) \(minor (0x[0-9a-f]+)\)/.exec(out)!;
      const h = halfMd4Hash(Buffer.from(name, 'utf8'), seed, true);
      expect([h.hash, h.minor]).toEqual([Number(m[1]), Number(m[2])]);
    }
  });
});
