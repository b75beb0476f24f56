// Tar header codec: numeric fields (octal, base-256), checksums (unsigned and signed), ustar prefix, old-GNU sparse fields.
import { describe, expect, it } from 'vitest';
import { isImageError } from '../../../../src/errors.js';
import {
  decodeHeader,
  decodeNumeric,
  encodeHeader,
  encodeNumeric,
  encodeSparseExtension,
  decodeSparseRuns,
  headerChecksums,
  isZeroBlock,
  paddingAfter,
} from '../../../../src/format/tar/header.js';

function field(text: string | number[], len: number): Buffer {
  const b = Buffer.alloc(len);
  if (typeof text === 'string') b.write(text, 'latin1');
  else Buffer.from(text).copy(b);
  return b;
}

describe('numeric fields', () => {
  it('reads octal with leading spaces/NULs and either terminator', () => {
    expect(decodeNumeric(field('0000644\0', 8), 0, 8, 'mode', 0)).toBe(0o644);
    expect(decodeNumeric(field('   755 ', 8), 0, 8, 'mode', 0)).toBe(0o755);
    expect(decodeNumeric(field('77777777777', 12), 0, 12, 'size', 0)).toBe(8 ** 11 - 1);
    expect(decodeNumeric(field('', 8), 0, 8, 'uid', 0)).toBeUndefined();
    expect(decodeNumeric(field('        ', 8), 0, 8, 'uid', 0)).toBeUndefined();
  });

  it('rejects non-octal digits with CORRUPT and the block offset', () => {
    try {
      decodeNumeric(field('0000899\0', 8), 0, 8, 'mode', 4096);
      expect.unreachable();
    } catch (err) {
      expect(isImageError(err, 'CORRUPT')).toBe(true);
      expect((err as { details: object }).details).toMatchObject({ offset: 4096, field: 'mode' });
    }
  });

  it('round-trips base-256, positive and negative, against hand-computed bytes', () => {
    const b = Buffer.alloc(12);
    encodeNumeric(b, 0, 12, 2 ** 33 + 5);
    expect(b.toString('hex')).toBe('800000000000000200000005');
    expect(decodeNumeric(b, 0, 12, 'size', 0)).toBe(2 ** 33 + 5);
    encodeNumeric(b, 0, 12, -1);
    expect(b.toString('hex')).toBe('ffffffffffffffffffffffff');
    expect(decodeNumeric(b, 0, 12, 'mtime', 0)).toBe(-1);
    encodeNumeric(b, 0, 12, -86_400);
    expect(decodeNumeric(b, 0, 12, 'mtime', 0)).toBe(-86_400);
    const u = Buffer.alloc(8);
    encodeNumeric(u, 0, 8, 3_000_000_000);
    expect(u.toString('hex')).toBe('80000000b2d05e00');
    expect(decodeNumeric(u, 0, 8, 'uid', 0)).toBe(3_000_000_000);
  });

  it('rejects base-256 values beyond 2^53', () => {
    const b = Buffer.from('80ffffffffffffffffffffff', 'hex');
    expect(() => decodeNumeric(b, 0, 12, 'size', 0)).toThrow(/out of range/);
  });
});

describe('header blocks', () => {
  it('encodes and decodes ustar fields, splitting long names into prefix/name', () => {
    const name = `${'d'.repeat(120)}/file`;
    const block = encodeHeader({ name, mode: 0o4755, uid: 1, gid: 2, size: 10, mtime: 1_700_000_000, uname: 'u', gname: 'g', devmajor: 3, devminor: 4 });
    expect(block.subarray(345, 465).toString('latin1')).toBe('d'.repeat(120));
    const h = decodeHeader(block, 0);
    expect(h).toMatchObject({ mode: 0o4755, uid: 1, gid: 2, size: 10, mtime: 1_700_000_000, typeflag: '0', magic: 'ustar', uname: 'u', gname: 'g', devmajor: 3, devminor: 4 });
    expect(h.name).toBe(name);
  });

  it('verifies the checksum: unsigned and signed sums pass, anything else is CORRUPT at the block offset', () => {
    const block = encodeHeader({ name: Buffer.from([0x68, 0xe9, 0xff]) });
    const sums = headerChecksums(block);
    expect(sums.signed).not.toBe(sums.unsigned);
    expect(() => decodeHeader(block, 0)).not.toThrow();
    block.write(`${sums.signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(() => decodeHeader(block, 0)).not.toThrow();
    block.write(`${(sums.signed + 1).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(() => decodeHeader(block, 1536)).toThrow(expect.objectContaining({ code: 'CORRUPT', details: expect.objectContaining({ offset: 1536 }) }));
  });

  it('reads old-GNU magic without a prefix, with atime/ctime and sparse fields', () => {
    const block = encodeHeader({
      name: 'sparse',
      magic: 'gnu',
      typeflag: 'S',
      sparse: [
        { offset: 0, length: 512 },
        { offset: 4096, length: 1024 },
      ],
      sparseExtended: true,
      realSize: 8192,
      size: 1536,
    });
    const h = decodeHeader(block, 0);
    expect(h.magic).toBe('gnu');
    expect(h.sparse).toEqual([
      { offset: 0, length: 512 },
      { offset: 4096, length: 1024 },
    ]);
    expect(h.sparseExtended).toBe(true);
    expect(h.realSize).toBe(8192);
    const ext = encodeSparseExtension([{ offset: 9000, length: 12 }], false);
    expect(decodeSparseRuns(ext, 0, 21, 0)).toEqual([{ offset: 9000, length: 12 }]);
    expect(ext[504]).toBe(0);
  });

  it('v7 headers (no magic) ignore uname/gname/devices; NUL typeflag reads as "0"', () => {
    const block = encodeHeader({ name: 'old', magic: 'v7', typeflag: '\0' });
    const h = decodeHeader(block, 0);
    expect(h).toMatchObject({ magic: 'v7', typeflag: '0', uname: '', devmajor: 0 });
  });

  it('detects zero blocks and computes padding', () => {
    expect(isZeroBlock(Buffer.alloc(512))).toBe(true);
    const b = Buffer.alloc(512);
    b[511] = 1;
    expect(isZeroBlock(b)).toBe(false);
    expect([0, 1, 511, 512, 513].map(paddingAfter)).toEqual([0, 511, 1, 0, 511]);
  });
});
