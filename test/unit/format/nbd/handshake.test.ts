// NBD handshake codec: every message round-trips; malformed info payloads are CORRUPT ImageErrors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ImageError } from '../../../../src/errors.js';
import { NBD_FLAG_FIXED_NEWSTYLE, NBD_FLAG_NO_ZEROES, NBD_INFO, NBD_OPT, NBD_REP } from '../../../../src/format/nbd/constants.js';
import {
  decodeInfo,
  decodeInfoRequest,
  decodeServerEntry,
  encodeGreeting,
  encodeInfo,
  encodeInfoRequest,
  encodeServerEntry,
  type NbdInfo,
} from '../../../../src/format/nbd/handshake.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const name = fc.string({ unit: 'grapheme', maxLength: 40 });

const infoArb: fc.Arbitrary<NbdInfo> = fc.oneof(
  fc.record({ type: fc.constant('export' as const), sizeBytes: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), transmissionFlags: u16 }),
  fc.record({ type: fc.constant('name' as const), name }),
  fc.record({ type: fc.constant('description' as const), description: name }),
  fc.record({ type: fc.constant('blockSize' as const), minimumBytes: u32, preferredBytes: u32, maximumBytes: u32 }),
  fc.record({ type: fc.constant('unknown' as const), infoType: fc.integer({ min: 4, max: 0xffff }), data: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)) }),
);

describe('NBD handshake codec', () => {
  it('greeting carries NBDMAGIC, IHAVEOPT and the handshake flags', () => {
    const g = encodeGreeting(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    expect(g.subarray(0, 16).toString('latin1')).toBe('NBDMAGICIHAVEOPT');
    expect(g.readUInt16BE(16)).toBe(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  });

  it('info payloads round-trip', () => {
    fc.assert(
      fc.property(infoArb, (info) => {
        expect(decodeInfo(encodeInfo(info))).toEqual(info);
      }),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('info requests and server entries round-trip', () => {
    fc.assert(
      fc.property(name, fc.array(u16, { maxLength: 8 }), name, (n, infoTypes, description) => {
        expect(decodeInfoRequest(encodeInfoRequest({ name: n, infoTypes }))).toEqual({ name: n, infoTypes });
        expect(decodeServerEntry(encodeServerEntry(n, description))).toEqual({ name: n, description });
      }),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('decoders reject arbitrary bytes only with ImageError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const b = Buffer.from(bytes);
        for (const decode of [decodeInfo, decodeInfoRequest, decodeServerEntry]) {
          try {
            decode(b);
          } catch (err) {
            expect(err).toBeInstanceOf(ImageError);
            expect((err as ImageError).code).toBe('CORRUPT');
          }
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 500 },
    );
  });

  it('truncated info payloads are CORRUPT', () => {
    const full = encodeInfo({ type: 'blockSize', minimumBytes: 1, preferredBytes: 4096, maximumBytes: 1 << 25 });
    expect(() => decodeInfo(full.subarray(0, full.length - 1))).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
    const req = encodeInfoRequest({ name: 'x', infoTypes: [NBD_INFO.NAME] });
    expect(() => decodeInfoRequest(req.subarray(0, req.length - 1))).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });

  it('option and reply numbering matches proto.md', () => {
    expect([NBD_OPT.EXPORT_NAME, NBD_OPT.ABORT, NBD_OPT.LIST, NBD_OPT.INFO, NBD_OPT.GO]).toEqual([1, 2, 3, 6, 7]);
    expect(NBD_REP.ERR_UNSUP).toBe(2 ** 31 + 1);
    expect(NBD_REP.ERR_UNKNOWN).toBe(2 ** 31 + 6);
  });
});
