// NBD transmission codec: requests round-trip; reply headers carry magic, errno and cookie.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { NBD_REQUEST_MAGIC, NBD_SIMPLE_REPLY_MAGIC } from '../../../../src/format/nbd/constants.js';
import { decodeRequest, encodeRequest, encodeSimpleReplyHeader } from '../../../../src/format/nbd/transmission.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';

describe('NBD transmission codec', () => {
  it('requests round-trip over the full field ranges', () => {
    fc.assert(
      fc.property(
        fc.record({
          flags: fc.integer({ min: 0, max: 0xffff }),
          type: fc.integer({ min: 0, max: 0xffff }),
          cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          offset: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          length: fc.integer({ min: 0, max: 0xffffffff }),
        }),
        (req) => {
          const b = encodeRequest(req);
          expect(b.readUInt32BE(0)).toBe(NBD_REQUEST_MAGIC);
          expect(decodeRequest(b)).toEqual(req);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('simple reply header', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (errno, cookie) => {
        const b = encodeSimpleReplyHeader(errno, cookie);
        expect([b.readUInt32BE(0), b.readUInt32BE(4), b.readBigUInt64BE(8)]).toEqual([NBD_SIMPLE_REPLY_MAGIC, errno, cookie]);
      }),
      { seed: PROPERTY_SEED, numRuns: 100 },
    );
  });
});
