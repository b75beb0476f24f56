// Parser of client bytes: options and requests round-trip for any chunking (down to one byte); garbage is an ImageError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ImageError } from '../../../../src/errors.js';
import { ClientStreamParser, type ClientFrame } from '../../../../src/format/nbd/client-stream-parser.js';
import { NBD_CMD, NBD_OPT } from '../../../../src/format/nbd/constants.js';
import { encodeClientFlags, encodeInfoRequest, encodeOption } from '../../../../src/format/nbd/handshake.js';
import { encodeRequest, type NbdRequest } from '../../../../src/format/nbd/transmission.js';
import { PROPERTY_SEED, SeededRandom } from '../../../helpers/random.js';

/** Feeds `bytes` in chunks cut at `cuts`, pulling frames after each push; switches phase after GO like a server. */
function parseAll(bytes: Buffer, chunkSizes: (i: number) => number, parser = new ClientStreamParser()): ClientFrame[] {
  const frames: ClientFrame[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.max(1, chunkSizes(i));
    parser.push(bytes.subarray(at, at + n));
    at += n;
    for (let f = parser.next(); f; f = parser.next()) {
      frames.push(f);
      if (f.kind === 'option' && f.option === NBD_OPT.GO) parser.enterTransmission();
    }
  }
  return frames;
}

const requestArb: fc.Arbitrary<NbdRequest> = fc.record({
  flags: fc.integer({ min: 0, max: 0xffff }),
  type: fc.constantFrom(NBD_CMD.READ, NBD_CMD.FLUSH, NBD_CMD.TRIM, NBD_CMD.CACHE, 99),
  cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  offset: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  length: fc.integer({ min: 0, max: 0xffffffff }),
});

function session(requests: NbdRequest[], writePayload: Buffer): { bytes: Buffer; expected: ClientFrame[] } {
  const go = encodeInfoRequest({ name: 'disk', infoTypes: [3] });
  const write: NbdRequest = { flags: 0, type: NBD_CMD.WRITE, cookie: 7n, offset: 0n, length: writePayload.length };
  const parts = [encodeClientFlags(3), encodeOption(NBD_OPT.LIST), encodeOption(NBD_OPT.GO, go), encodeRequest(write), writePayload, ...requests.map(encodeRequest)];
  const expected: ClientFrame[] = [
    { kind: 'clientFlags', flags: 3 },
    { kind: 'option', option: NBD_OPT.LIST, data: Buffer.alloc(0) },
    { kind: 'option', option: NBD_OPT.GO, data: go },
    { kind: 'request', request: write },
    ...requests.map((request) => ({ kind: 'request' as const, request })),
  ];
  return { bytes: Buffer.concat(parts), expected };
}

describe('ClientStreamParser', () => {
  it('parses a whole session at once, byte by byte and in random chunks; WRITE payloads are skipped', () => {
    const rnd = new SeededRandom('nbd-client-stream');
    const requests = Array.from({ length: 20 }, (_, i) => ({ flags: 0, type: NBD_CMD.READ, cookie: BigInt(i), offset: BigInt(rnd.int(1 << 30)), length: rnd.int(1 << 20) }));
    const { bytes, expected } = session(requests, rnd.bytes(3000));
    expect(parseAll(bytes, () => bytes.length)).toEqual(expected);
    expect(parseAll(bytes, () => 1)).toEqual(expected);
    expect(parseAll(bytes, () => 1 + rnd.int(50))).toEqual(expected);
  });

  it('round-trips arbitrary requests under arbitrary chunking', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { maxLength: 10 }), fc.uint8Array({ maxLength: 100 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }), (reqs, payload, cuts) => {
        const { bytes, expected } = session(reqs, Buffer.from(payload));
        expect(parseAll(bytes, (i) => cuts[i % cuts.length]!)).toEqual(expected);
      }),
      { seed: PROPERTY_SEED, numRuns: 200 },
    );
  });

  it('arbitrary bytes give frames or an ImageError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('clientFlags', 'options', 'transmission' as const), (bytes, phase) => {
        const parser = new ClientStreamParser({ phase, maxOptionBytes: 64 });
        try {
          parseAll(Buffer.from(bytes), () => 1, parser);
        } catch (err) {
          expect(err).toBeInstanceOf(ImageError);
          expect(['CORRUPT', 'LIMIT_EXCEEDED']).toContain((err as ImageError).code);
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 500 },
    );
  });

  it('a bad option magic is CORRUPT with its stream offset; an oversized option is LIMIT_EXCEEDED', () => {
    const bad = Buffer.concat([encodeClientFlags(1), Buffer.alloc(16, 0x41)]);
    expect(() => parseAll(bad, () => 1)).toThrow(expect.objectContaining({ code: 'CORRUPT', details: expect.objectContaining({ offset: 4 }) }));
    const big = encodeOption(NBD_OPT.GO, Buffer.alloc(100));
    expect(() => parseAll(big, () => 7, new ClientStreamParser({ phase: 'options', maxOptionBytes: 64 }))).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }));
  });

  it('a bad request magic is CORRUPT', () => {
    const req = encodeRequest({ flags: 0, type: 0, cookie: 1n, offset: 0n, length: 1 });
    req[0] = req[0]! ^ 1;
    expect(() => parseAll(req, () => 3, new ClientStreamParser({ phase: 'transmission' }))).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });
});
