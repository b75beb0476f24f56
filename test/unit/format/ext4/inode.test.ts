// Inode codec round trips, including 32-bit ids above 2^31 (regression: hi<<16 made them negative).
import { describe, expect, it } from 'vitest';
import { encodeInode, INODE_SIZE, type Inode } from '../../../../src/format/ext4/inode.js';
import { decodeInodeRaw, inodeChecksumAnySize } from '../../../../src/format/ext4/inode-decode.js';

function sampleInode(uid: number, gid: number): Inode {
  const t = { sec: 1_700_000_000, nsec: 123_456_789 };
  return {
    mode: 0o100644, uid, gid, size: 5 * 2 ** 32 + 7, atime: t, ctime: t, mtime: t, crtime: t,
    linksCount: 2, blocks512: 8, flags: 0x80000, block: new Uint8Array(60), generation: 0, fileAcl: 0,
  };
}

describe('ext4 inode codec', () => {
  it.each([
    [0, 0],
    [65_535, 65_536],
    [2 ** 31 - 1, 2 ** 31],
    [4_000_000_000, 2 ** 32 - 1],
  ])('round-trips uid %d and gid %d', (uid, gid) => {
    const out = Buffer.alloc(INODE_SIZE);
    encodeInode(sampleInode(uid, gid), 12, 0x12345678, out, 0);
    const decoded = decodeInodeRaw(out);
    expect([decoded.uid, decoded.gid]).toEqual([uid, gid]);
    expect(decoded.size).toBe(5 * 2 ** 32 + 7);
    expect(decoded.mtime).toEqual({ sec: 1_700_000_000, nsec: 123_456_789 });
    expect(decoded.crtime).toEqual({ sec: 1_700_000_000, nsec: 123_456_789 });
    expect([decoded.linksCount, decoded.blocksRaw, decoded.flags, decoded.extraIsize, decoded.checksumBits]).toEqual([2, 8, 0x80000, 32, 32]);
    expect(decoded.storedChecksum).toBe(inodeChecksumAnySize(out, 12, 0x12345678));
  });
});
