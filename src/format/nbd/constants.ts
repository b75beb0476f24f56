// NBD protocol constants: magics, handshake flags, options, replies, info types, commands and errno values (NetworkBlockDevice doc/proto.md, 2023).

/** "NBDMAGIC": first 8 bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": newstyle greeting magic, also the prefix of every client option. */
export const NBD_IHAVEOPT = 0x49484156454f5054n;
/** Magic of every option reply (server to client during haggling). */
export const NBD_OPT_REPLY_MAGIC = 0x3e889045565a9n;
/** Magic of a transmission request. */
export const NBD_REQUEST_MAGIC = 0x25609513;
/** Magic of a simple reply. */
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
/** Magic of a structured reply chunk (not negotiated by this server). */
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags sent by the server (16 bits). */
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
/** Server may omit the 124 zero bytes after NBD_OPT_EXPORT_NAME. */
export const NBD_FLAG_NO_ZEROES = 1 << 1;

/** Client flags (32 bits): the client speaks fixed newstyle. */
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
/** Client flags: the client does not want the 124 zero bytes. */
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

/** Transmission flags (16 bits) describing an export. */
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
/** Export is read-only. */
export const NBD_FLAG_READ_ONLY = 1 << 1;
/** Server accepts NBD_CMD_FLUSH. */
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
/** Server accepts NBD_CMD_FLAG_FUA. */
export const NBD_FLAG_SEND_FUA = 1 << 3;
/** Device is rotational (hint). */
export const NBD_FLAG_ROTATIONAL = 1 << 4;
/** Server accepts NBD_CMD_TRIM. */
export const NBD_FLAG_SEND_TRIM = 1 << 5;
/** Server accepts NBD_CMD_WRITE_ZEROES. */
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
/** Server accepts NBD_CMD_FLAG_DF. */
export const NBD_FLAG_SEND_DF = 1 << 7;
/** Several connections to the export see the same data (safe for multi-connection clients). */
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

/** Option types (client to server). */
export const NBD_OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

const ERR = 2 ** 31;
/** Option reply types; values >= 2^31 are errors. */
export const NBD_REP = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: ERR + 1,
  ERR_POLICY: ERR + 2,
  ERR_INVALID: ERR + 3,
  ERR_PLATFORM: ERR + 4,
  ERR_TLS_REQD: ERR + 5,
  ERR_UNKNOWN: ERR + 6,
  ERR_SHUTDOWN: ERR + 7,
  ERR_BLOCK_SIZE_REQD: ERR + 8,
  ERR_TOO_BIG: ERR + 9,
} as const;

/** True for an option reply type that reports an error. */
export function isOptionReplyError(type: number): boolean {
  return type >= ERR;
}

/** Information types carried by NBD_REP_INFO (NBD_OPT_INFO / NBD_OPT_GO). */
export const NBD_INFO = {
  EXPORT: 0,
  NAME: 1,
  DESCRIPTION: 2,
  BLOCK_SIZE: 3,
} as const;

/** Transmission command types. */
export const NBD_CMD = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;

/** Command flag: force unit access. */
export const NBD_CMD_FLAG_FUA = 1 << 0;

/** Error values of replies (Linux errno numbers, as the protocol fixes them). */
export const NBD_ERRNO = {
  OK: 0,
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** An NBD reply error value. */
export type NbdErrno = (typeof NBD_ERRNO)[keyof typeof NBD_ERRNO];

/** Bytes of zero padding after the NBD_OPT_EXPORT_NAME reply unless NO_ZEROES was agreed. */
export const NBD_EXPORT_NAME_PADDING_BYTES = 124;

/** Longest export name or description the protocol allows (proto.md: strings up to 4096 bytes). */
export const NBD_MAX_STRING_BYTES = 4096;
