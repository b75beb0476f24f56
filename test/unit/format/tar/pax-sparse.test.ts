// Pax records (length prefix, binary values, times) and GNU sparse maps (0.1 text, 1.0 data-area map, validation).
import { describe, expect, it } from 'vitest';
import { decodeUrlEscapes, encodePaxRecords, parsePaxNumber, parsePaxRecords, parsePaxTime } from '../../../../src/format/tar/pax.js';
import { encodeSparseMapV1, parseSparseMapV01, SparseMapV1Parser, validateSparseMap } from '../../../../src/format/tar/sparse.js';

describe('pax records', () => {
  it('parses the POSIX example layout and binary values', () => {
    const payload = Buffer.concat([Buffer.from('30 mtime=1700000000.123456789\n'), Buffer.from('21 SCHILY.xattr.a=\x00\xff\n', 'latin1')]);
    const recs = parsePaxRecords(payload, 0);
    expect(recs.map((r) => r.key)).toEqual(['mtime', 'SCHILY.xattr.a']);
    expect(recs[1]!.value).toEqual(Buffer.from([0, 0xff]));
  });

  it('encodes lengths that cross a digit boundary exactly', () => {
    for (let n = 80; n < 120; n++) {
      const value = 'v'.repeat(n);
      const enc = encodePaxRecords([['k', value]]);
      expect(enc.toString().startsWith(`${enc.length} `)).toBe(true);
      expect(parsePaxRecords(enc, 0)[0]!.value.toString()).toBe(value);
    }
  });

  it('rejects malformed records with CORRUPT and the offset', () => {
    for (const bad of ['5 a=b\n', '99 a=b\n', 'x a=b\n', '7 ab c\n', '6 a=bc']) {
      expect(() => parsePaxRecords(Buffer.from(bad), 1024), bad).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
    }
  });

  it('parses times with fractions, negatives and more than 9 digits', () => {
    expect(parsePaxTime('1.5', 'mtime', 0)).toEqual({ sec: 1, nsec: 500_000_000 });
    expect(parsePaxTime('-1.25', 'mtime', 0)).toEqual({ sec: -2, nsec: 750_000_000 });
    expect(parsePaxTime('-3', 'mtime', 0)).toEqual({ sec: -3, nsec: 0 });
    expect(parsePaxTime('7.1234567891', 'mtime', 0)).toEqual({ sec: 7, nsec: 123_456_789 });
    expect(parsePaxTime('7.', 'mtime', 0)).toEqual({ sec: 7, nsec: 0 });
    expect(() => parsePaxTime('1e5', 'mtime', 0)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
    expect(() => parsePaxNumber('-1', 'size', 0)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
    expect(() => parsePaxNumber('99999999999999999999', 'size', 0)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });

  it('decodes libarchive %XX escapes as UTF-8 bytes', () => {
    expect(decodeUrlEscapes('user.%C3%A9t%C3%A9')).toBe('user.été');
    expect(decodeUrlEscapes('a%3Db%')).toBe('a=b%');
  });
});

describe('GNU sparse maps', () => {
  it('parses 0.1 maps', () => {
    expect(parseSparseMapV01('0,512,4096,100', 0)).toEqual([
      { offset: 0, length: 512 },
      { offset: 4096, length: 100 },
    ]);
    expect(() => parseSparseMapV01('1,2,3', 0)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });

  it('parses a 1.0 map fed block by block, across block boundaries', () => {
    const runs = Array.from({ length: 100 }, (_, i) => ({ offset: i * 1_000_000, length: 512 }));
    const enc = encodeSparseMapV1(runs);
    expect(enc.length % 512).toBe(0);
    expect(enc.length).toBeGreaterThan(512);
    const p = new SparseMapV1Parser(0);
    let done = false;
    for (let i = 0; i < enc.length && !done; i += 512) done = p.feedBlock(enc.subarray(i, i + 512));
    expect(done).toBe(true);
    expect(p.bytes).toBe(enc.length);
    expect(p.runs).toEqual(runs);
  });

  it('rejects garbage in a 1.0 map', () => {
    const p = new SparseMapV1Parser(2048);
    const block = Buffer.alloc(512);
    block.write('2\n10\nxx\n');
    expect(() => p.feedBlock(block)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });

  it('validates maps against size and stored bytes', () => {
    expect(() => validateSparseMap([{ offset: 0, length: 10 }], 10, 10, 0)).not.toThrow();
    expect(() => validateSparseMap([{ offset: 5, length: 10 }], 10, 10, 0)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
    expect(() => validateSparseMap([{ offset: 4, length: 4 }, { offset: 2, length: 1 }], 10, 5, 0)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
    expect(() => validateSparseMap([{ offset: 0, length: 4 }], 10, 5, 0)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });
});
