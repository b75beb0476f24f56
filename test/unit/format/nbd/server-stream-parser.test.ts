// Parser of server bytes (client side): greeting, option replies, export-name reply, simple replies with READ data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ImageError } from '../../../../src/errors.js';
import { NBD_OPT, NBD_REP, NBD_STRUCTURED_REPLY_MAGIC } from '../../../../src/format/nbd/constants.js';
import { encodeExportNameReply, encodeGreeting, encodeOptionReply } from '../../../../src/format/nbd/handshake.js';
import { ServerStreamParser, type ServerFrame } from '../../../../src/format/nbd/server-stream-parser.js';
import { encodeSimpleReplyHeader } from '../../../../src/format/nbd/transmission.js';
import { PROPERTY_SEED, SeededRandom } from '../../../helpers/random.js';

function feed(parser: ServerStreamParser, bytes: Buffer, chunk: (i: number) => number, onFrame?: (f: ServerFrame) => void): ServerFrame[] {
  const out: ServerFrame[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.max(1, chunk(i));
    parser.push(bytes.subarray(at, at + n));
    at += n;
    for (let f = parser.next(); f; f = parser.next()) {
      out.push(f);
      onFrame?.(f);
    }
  }
  return out;
}

describe('ServerStreamParser', () => {
  it('parses a GO session with out-of-order READ replies for any chunking', () => {
    const rnd = new SeededRandom('nbd-server-stream');
    const reads = Array.from({ length: 12 }, (_, i) => ({ cookie: BigInt(100 + i), data: rnd.bytes(1 + rnd.int(5000)) }));
    const order = [...reads].sort(() => rnd.int(3) - 1);
    const bytes = Buffer.concat([
      encodeGreeting(3),
      encodeOptionReply(NBD_OPT.GO, NBD_REP.INFO, Buffer.from([0, 3, 1, 2])),
      encodeOptionReply(NBD_OPT.GO, NBD_REP.ACK),
      ...order.flatMap((r) => [encodeSimpleReplyHeader(0, r.cookie), r.data]),
      encodeSimpleReplyHeader(5, 999n),
    ]);
    const lengths = new Map(reads.map((r) => [r.cookie, r.data.length]));
    for (const chunk of [() => bytes.length, () => 1, () => 1 + rnd.int(700)]) {
      const parser = new ServerStreamParser({ replyDataBytes: (c) => lengths.get(c) });
      const frames = feed(parser, bytes, chunk, (f) => {
        if (f.kind === 'optionReply' && f.type === NBD_REP.ACK) parser.enterTransmission();
      });
      expect(frames[0]).toEqual({ kind: 'greeting', handshakeFlags: 3 });
      expect(frames[2]).toEqual({ kind: 'optionReply', option: NBD_OPT.GO, type: NBD_REP.ACK, data: Buffer.alloc(0) });
      const replies = frames.slice(3);
      expect(replies.map((f) => (f.kind === 'simpleReply' ? f.cookie : -1n))).toEqual([...order.map((r) => r.cookie), 999n]);
      for (const [i, r] of order.entries()) expect((replies[i] as { data: Buffer }).data.equals(r.data)).toBe(true);
      expect(replies.at(-1)).toEqual({ kind: 'simpleReply', error: 5, cookie: 999n, data: undefined });
    }
  });

  it('parses the export-name reply with and without the 124 zero bytes', () => {
    for (const noZeroes of [true, false]) {
      const parser = new ServerStreamParser({ phase: 'options' });
      parser.expectExportNameReply(noZeroes);
      const frames = feed(parser, encodeExportNameReply({ sizeBytes: 2n ** 40n, transmissionFlags: 0x103 }, noZeroes), () => 1);
      expect(frames).toEqual([{ kind: 'exportNameReply', sizeBytes: 2n ** 40n, transmissionFlags: 0x103 }]);
      expect(parser.phase).toBe('transmission');
    }
  });

  it('structured replies (not negotiated) are UNSUPPORTED', () => {
    const b = Buffer.alloc(20);
    b.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0);
    expect(() => feed(new ServerStreamParser({ phase: 'transmission' }), b, () => 1)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
  });

  it('arbitrary bytes give frames or an ImageError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('greeting', 'options', 'exportName', 'transmission' as const), (bytes, phase) => {
        const parser = new ServerStreamParser({ phase, maxOptionReplyBytes: 64, replyDataBytes: (c) => Number(c % 50n) });
        try {
          feed(parser, Buffer.from(bytes), () => 1);
        } catch (err) {
          expect(err).toBeInstanceOf(ImageError);
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 500 },
    );
  });
});
