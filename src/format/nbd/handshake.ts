// NBD fixed-newstyle handshake messages: greeting, client flags, options, option replies, info payloads (proto.md "Newstyle negotiation").
import { ImageError } from '../../errors.js';
import {
  NBD_EXPORT_NAME_PADDING_BYTES,
  NBD_IHAVEOPT,
  NBD_INFO,
  NBD_MAGIC,
  NBD_MAX_STRING_BYTES,
  NBD_OPT_REPLY_MAGIC,
} from './constants.js';

/** Bytes of the server greeting: NBDMAGIC, IHAVEOPT, 16-bit handshake flags. */
export const GREETING_BYTES = 18;
/** Bytes of an option header: IHAVEOPT, option, data length. */
export const OPTION_HEADER_BYTES = 16;
/** Bytes of an option reply header: magic, option, reply type, data length. */
export const OPTION_REPLY_HEADER_BYTES = 20;
/** Bytes of the NBD_OPT_EXPORT_NAME reply without padding: size, transmission flags. */
export const EXPORT_NAME_REPLY_BYTES = 10;

/** Export facts as NBD_INFO_EXPORT carries them. */
export interface NbdExportInfo {
  sizeBytes: bigint;
  transmissionFlags: number;
}

/** Block size constraints (NBD_INFO_BLOCK_SIZE). */
export interface NbdBlockSize {
  minimumBytes: number;
  preferredBytes: number;
  maximumBytes: number;
}

/** One NBD_REP_INFO payload, decoded. */
export type NbdInfo =
  | ({ type: 'export' } & NbdExportInfo)
  | { type: 'name'; name: string }
  | { type: 'description'; description: string }
  | ({ type: 'blockSize' } & NbdBlockSize)
  | { type: 'unknown'; infoType: number; data: Buffer };

/** The payload of NBD_OPT_INFO / NBD_OPT_GO: an export name and the info types asked for. */
export interface NbdInfoRequest {
  name: string;
  infoTypes: number[];
}

function malformed(what: string, details: Record<string, number>): ImageError {
  return new ImageError('CORRUPT', `malformed NBD ${what}`, { details });
}

/** The server's first message. */
export function encodeGreeting(handshakeFlags: number): Buffer {
  const b = Buffer.alloc(GREETING_BYTES);
  b.writeBigUInt64BE(NBD_MAGIC, 0);
  b.writeBigUInt64BE(NBD_IHAVEOPT, 8);
  b.writeUInt16BE(handshakeFlags, 16);
  return b;
}

/** The client's 32-bit flags answering the greeting. */
export function encodeClientFlags(flags: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(flags >>> 0, 0);
  return b;
}

/** A client option: header plus data. */
export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(OPTION_HEADER_BYTES + data.length);
  b.writeBigUInt64BE(NBD_IHAVEOPT, 0);
  b.writeUInt32BE(option >>> 0, 8);
  b.writeUInt32BE(data.length, 12);
  data.copy(b, OPTION_HEADER_BYTES);
  return b;
}

/** A server option reply: header plus data. */
export function encodeOptionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(OPTION_REPLY_HEADER_BYTES + data.length);
  b.writeBigUInt64BE(NBD_OPT_REPLY_MAGIC, 0);
  b.writeUInt32BE(option >>> 0, 8);
  b.writeUInt32BE(type >>> 0, 12);
  b.writeUInt32BE(data.length, 16);
  data.copy(b, OPTION_REPLY_HEADER_BYTES);
  return b;
}

/** The reply to NBD_OPT_EXPORT_NAME: size, flags and (unless NO_ZEROES) 124 zero bytes. */
export function encodeExportNameReply(info: NbdExportInfo, noZeroes: boolean): Buffer {
  const b = Buffer.alloc(EXPORT_NAME_REPLY_BYTES + (noZeroes ? 0 : NBD_EXPORT_NAME_PADDING_BYTES));
  b.writeBigUInt64BE(info.sizeBytes, 0);
  b.writeUInt16BE(info.transmissionFlags, 8);
  return b;
}

/** Payload of NBD_OPT_INFO / NBD_OPT_GO. */
export function encodeInfoRequest(req: NbdInfoRequest): Buffer {
  const name = Buffer.from(req.name, 'utf8');
  const b = Buffer.alloc(4 + name.length + 2 + 2 * req.infoTypes.length);
  b.writeUInt32BE(name.length, 0);
  name.copy(b, 4);
  b.writeUInt16BE(req.infoTypes.length, 4 + name.length);
  req.infoTypes.forEach((t, i) => b.writeUInt16BE(t, 6 + name.length + 2 * i));
  return b;
}

/** Decodes the payload of NBD_OPT_INFO / NBD_OPT_GO; CORRUPT when the lengths disagree. */
export function decodeInfoRequest(data: Buffer): NbdInfoRequest {
  if (data.length < 6) throw malformed('info request', { bytes: data.length });
  const nameLength = data.readUInt32BE(0);
  if (nameLength > NBD_MAX_STRING_BYTES || 4 + nameLength + 2 > data.length) throw malformed('info request name', { nameLength, bytes: data.length });
  const name = data.toString('utf8', 4, 4 + nameLength);
  const count = data.readUInt16BE(4 + nameLength);
  if (6 + nameLength + 2 * count !== data.length) throw malformed('info request list', { count, bytes: data.length });
  const infoTypes: number[] = [];
  for (let i = 0; i < count; i++) infoTypes.push(data.readUInt16BE(6 + nameLength + 2 * i));
  return { name, infoTypes };
}

/** Payload of one NBD_REP_INFO. */
export function encodeInfo(info: NbdInfo): Buffer {
  switch (info.type) {
    case 'export': {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(NBD_INFO.EXPORT, 0);
      b.writeBigUInt64BE(info.sizeBytes, 2);
      b.writeUInt16BE(info.transmissionFlags, 10);
      return b;
    }
    case 'name':
    case 'description': {
      const text = Buffer.from(info.type === 'name' ? info.name : info.description, 'utf8');
      const b = Buffer.alloc(2 + text.length);
      b.writeUInt16BE(info.type === 'name' ? NBD_INFO.NAME : NBD_INFO.DESCRIPTION, 0);
      text.copy(b, 2);
      return b;
    }
    case 'blockSize': {
      const b = Buffer.alloc(14);
      b.writeUInt16BE(NBD_INFO.BLOCK_SIZE, 0);
      b.writeUInt32BE(info.minimumBytes, 2);
      b.writeUInt32BE(info.preferredBytes, 6);
      b.writeUInt32BE(info.maximumBytes, 10);
      return b;
    }
    case 'unknown': {
      const b = Buffer.alloc(2 + info.data.length);
      b.writeUInt16BE(info.infoType, 0);
      info.data.copy(b, 2);
      return b;
    }
  }
}

/** Decodes one NBD_REP_INFO payload; CORRUPT when a known type has the wrong length. */
export function decodeInfo(data: Buffer): NbdInfo {
  if (data.length < 2) throw malformed('info reply', { bytes: data.length });
  const infoType = data.readUInt16BE(0);
  switch (infoType) {
    case NBD_INFO.EXPORT:
      if (data.length !== 12) throw malformed('NBD_INFO_EXPORT', { bytes: data.length });
      return { type: 'export', sizeBytes: data.readBigUInt64BE(2), transmissionFlags: data.readUInt16BE(10) };
    case NBD_INFO.NAME:
      return { type: 'name', name: data.toString('utf8', 2) };
    case NBD_INFO.DESCRIPTION:
      return { type: 'description', description: data.toString('utf8', 2) };
    case NBD_INFO.BLOCK_SIZE:
      if (data.length !== 14) throw malformed('NBD_INFO_BLOCK_SIZE', { bytes: data.length });
      return { type: 'blockSize', minimumBytes: data.readUInt32BE(2), preferredBytes: data.readUInt32BE(6), maximumBytes: data.readUInt32BE(10) };
    default:
      return { type: 'unknown', infoType, data: Buffer.from(data.subarray(2)) };
  }
}

/** Payload of NBD_REP_SERVER (an NBD_OPT_LIST entry): name length, name, optional description. */
export function encodeServerEntry(name: string, description = ''): Buffer {
  const n = Buffer.from(name, 'utf8');
  const d = Buffer.from(description, 'utf8');
  const b = Buffer.alloc(4 + n.length + d.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  d.copy(b, 4 + n.length);
  return b;
}

/** Decodes an NBD_REP_SERVER payload; CORRUPT when the name length overruns it. */
export function decodeServerEntry(data: Buffer): { name: string; description: string } {
  if (data.length < 4) throw malformed('server entry', { bytes: data.length });
  const nameLength = data.readUInt32BE(0);
  if (4 + nameLength > data.length) throw malformed('server entry name', { nameLength, bytes: data.length });
  return { name: data.toString('utf8', 4, 4 + nameLength), description: data.toString('utf8', 4 + nameLength) };
}
