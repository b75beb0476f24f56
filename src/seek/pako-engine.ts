// The pure-JS InflateEngine on pako 3.0.3: raw inflate primed by poking state.hold/state.bits (pako has no inflatePrime).
import { ZStream, Z_BUF_ERROR, Z_OK, Z_STREAM_END, Z_SYNC_FLUSH, zlibInflate, zlibInflateEnd, zlibInflateInit2, zlibInflateSetDictionary } from 'pako';

import { ImageError } from '../errors.js';
import type { EngineIndexer, EngineIndexerOptions, EngineOutputIndexer, InflateEngine, InflateFromArgs, InflateFromResult } from './inflate-engine.js';
import { PakoIndexer, PakoOutputIndexer } from './pako-indexer.js';

/** Raw deflate (RFC 1951), 32 KiB window. */
const RAW_WINDOW_BITS = -15;

/** Synchronous raw inflate from a seek point with pako. */
export function pakoInflateFrom(args: InflateFromArgs): InflateFromResult {
  const { input, firstBitInByte: k, window, skipBytes, outBytes } = args;
  const want = skipBytes + outBytes;
  if (want === 0) return { output: Buffer.alloc(0), streamEnd: false, inputExhausted: false };
  const strm = new ZStream();
  if (zlibInflateInit2(strm, RAW_WINDOW_BITS) !== Z_OK) throw new ImageError('INTERNAL', 'pako inflateInit2 failed');
  try {
    if (window.length > 0 && zlibInflateSetDictionary(strm, window) !== Z_OK) {
      throw new ImageError('INTERNAL', 'pako inflateSetDictionary failed', { details: { windowBytes: window.length } });
    }
    let start = 0;
    if (k !== 0) {
      if (input.length === 0) return { output: Buffer.alloc(0), streamEnd: false, inputExhausted: true };
      // Same effect as zlib's inflatePrime(strm, 8 - k, byte >> k): the unread high bits of the first byte.
      strm.state.hold = input[0]! >>> k;
      strm.state.bits = 8 - k;
      start = 1;
    }
    const out = Buffer.allocUnsafeSlow(want);
    strm.input = input;
    strm.next_in = start;
    strm.avail_in = input.length - start;
    strm.output = out as unknown as Uint8Array<ArrayBuffer>;
    strm.next_out = 0;
    strm.avail_out = want;
    let ret: number = Z_OK;
    while (strm.avail_out > 0) {
      ret = zlibInflate(strm, Z_SYNC_FLUSH);
      if (ret === Z_STREAM_END) break;
      if (ret === Z_BUF_ERROR || (ret === Z_OK && strm.avail_in === 0)) break;
      if (ret !== Z_OK) {
        throw new ImageError('CORRUPT', `invalid deflate data: ${strm.msg || `zlib error ${ret}`}`, {
          details: { offset: strm.next_in },
        });
      }
    }
    const produced = strm.next_out;
    return {
      output: produced > skipBytes ? out.subarray(skipBytes, produced) : Buffer.alloc(0),
      streamEnd: ret === Z_STREAM_END,
      inputExhausted: ret !== Z_STREAM_END && produced < want,
    };
  } finally {
    zlibInflateEnd(strm);
  }
}

/** The pako engine: always available, about 3x slower than the native addon. */
export const pakoEngine: InflateEngine = {
  name: 'pako',
  createIndexer: ((spanBytes: number, options?: EngineIndexerOptions): EngineIndexer | EngineOutputIndexer =>
    options?.emitOutput ? new PakoOutputIndexer(spanBytes) : new PakoIndexer(spanBytes)) as InflateEngine['createIndexer'],
  inflateFrom: (args) => {
    try {
      return Promise.resolve(pakoInflateFrom(args));
    } catch (err) {
      return Promise.reject(err);
    }
  },
};
