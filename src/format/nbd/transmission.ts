// NBD transmission-phase messages: requests and simple replies (proto.md "Transmission phase").
import { NBD_REQUEST_MAGIC, NBD_SIMPLE_REPLY_MAGIC } from './constants.js';

/** Bytes of a request header (a WRITE's payload follows it). */
export const REQUEST_BYTES = 28;
/** Bytes of a simple reply header (a successful READ's data follows it). */
export const SIMPLE_REPLY_BYTES = 16;

/** One client request. Offsets are 64-bit on the wire, so bigint here. */
export interface NbdRequest {
  flags: number;
  type: number;
  cookie: bigint;
  offset: bigint;
  length: number;
}

/** A request header (without payload). */
export function encodeRequest(req: NbdRequest): Buffer {
  const b = Buffer.alloc(REQUEST_BYTES);
  b.writeUInt32BE(NBD_REQUEST_MAGIC, 0);
  b.writeUInt16BE(req.flags, 4);
  b.writeUInt16BE(req.type, 6);
  b.writeBigUInt64BE(req.cookie, 8);
  b.writeBigUInt64BE(req.offset, 16);
  b.writeUInt32BE(req.length >>> 0, 24);
  return b;
}

/** Decodes a request header whose magic the caller has checked (b.length >= REQUEST_BYTES). */
export function decodeRequest(b: Buffer): NbdRequest {
  return {
    flags: b.readUInt16BE(4),
    type: b.readUInt16BE(6),
    cookie: b.readBigUInt64BE(8),
    offset: b.readBigUInt64BE(16),
    length: b.readUInt32BE(24),
  };
}

/** A simple reply header; for a successful READ the data follows. */
export function encodeSimpleReplyHeader(error: number, cookie: bigint): Buffer {
  const b = Buffer.alloc(SIMPLE_REPLY_BYTES);
  b.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error >>> 0, 4);
  b.writeBigUInt64BE(cookie, 8);
  return b;
}
