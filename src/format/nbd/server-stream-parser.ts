// Incremental parser of the bytes an NBD server sends: greeting, option replies, export-name reply, simple replies.
import { NBD_MAX_OPTION_BYTES } from '../../defaults.js';
import { ImageError } from '../../errors.js';
import { NBD_EXPORT_NAME_PADDING_BYTES, NBD_IHAVEOPT, NBD_MAGIC, NBD_OPT_REPLY_MAGIC, NBD_SIMPLE_REPLY_MAGIC, NBD_STRUCTURED_REPLY_MAGIC } from './constants.js';
import { ByteQueue } from './byte-queue.js';
import { EXPORT_NAME_REPLY_BYTES, GREETING_BYTES, OPTION_REPLY_HEADER_BYTES } from './handshake.js';
import { SIMPLE_REPLY_BYTES } from './transmission.js';

/** A complete message from the server. */
export type ServerFrame =
  | { kind: 'greeting'; handshakeFlags: number }
  | { kind: 'optionReply'; option: number; type: number; data: Buffer }
  | { kind: 'exportNameReply'; sizeBytes: bigint; transmissionFlags: number }
  | { kind: 'simpleReply'; error: number; cookie: bigint; data: Buffer | undefined };

/** Where the parser is in the protocol. */
export type ServerStreamPhase = 'greeting' | 'options' | 'exportName' | 'transmission';

/** Options of a ServerStreamParser. */
export interface ServerStreamParserOptions {
  /** Start phase (tests start in 'transmission'). */
  phase?: ServerStreamPhase;
  /** Largest option reply payload accepted. */
  maxOptionReplyBytes?: number;
  /** Data bytes that follow a successful simple reply to `cookie` (the READ length), undefined/0 for other commands. */
  replyDataBytes?: (cookie: bigint) => number | undefined;
}

/**
 * Client side of the stream: push() bytes, pull frames with next(). The client calls expectExportNameReply() after
 * sending NBD_OPT_EXPORT_NAME and enterTransmission() after NBD_REP_ACK to NBD_OPT_GO. Malformed input throws
 * ImageError (CORRUPT, UNSUPPORTED for structured replies, LIMIT_EXCEEDED).
 */
export class ServerStreamParser {
  readonly #queue = new ByteQueue();
  readonly #maxOptionReplyBytes: number;
  readonly #replyDataBytes: (cookie: bigint) => number | undefined;
  #phase: ServerStreamPhase;
  #noZeroes = false;
  #consumed = 0;

  constructor(options: ServerStreamParserOptions = {}) {
    this.#phase = options.phase ?? 'greeting';
    this.#maxOptionReplyBytes = options.maxOptionReplyBytes ?? NBD_MAX_OPTION_BYTES;
    this.#replyDataBytes = options.replyDataBytes ?? (() => undefined);
  }

  /** Current phase. */
  get phase(): ServerStreamPhase {
    return this.#phase;
  }

  /** The next frame is the NBD_OPT_EXPORT_NAME reply (padded with zeroes unless `noZeroes`). */
  expectExportNameReply(noZeroes: boolean): void {
    this.#phase = 'exportName';
    this.#noZeroes = noZeroes;
  }

  /** Switches to the transmission phase. */
  enterTransmission(): void {
    this.#phase = 'transmission';
  }

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    this.#queue.push(chunk);
  }

  /** The next complete frame, or undefined when more bytes are needed. */
  next(): ServerFrame | undefined {
    const q = this.#queue;
    switch (this.#phase) {
      case 'greeting': {
        if (q.length < GREETING_BYTES) return undefined;
        const b = this.#take(GREETING_BYTES);
        if (b.readBigUInt64BE(0) !== NBD_MAGIC || b.readBigUInt64BE(8) !== NBD_IHAVEOPT) {
          throw new ImageError('CORRUPT', 'not an NBD fixed-newstyle greeting', { details: { offset: 0 } });
        }
        this.#phase = 'options';
        return { kind: 'greeting', handshakeFlags: b.readUInt16BE(16) };
      }
      case 'options': {
        if (q.length < OPTION_REPLY_HEADER_BYTES) return undefined;
        const h = q.peek(OPTION_REPLY_HEADER_BYTES);
        if (h.readBigUInt64BE(0) !== NBD_OPT_REPLY_MAGIC) throw this.#corrupt('bad NBD option reply magic');
        const option = h.readUInt32BE(8);
        const type = h.readUInt32BE(12);
        const length = h.readUInt32BE(16);
        if (length > this.#maxOptionReplyBytes) {
          throw new ImageError('LIMIT_EXCEEDED', 'NBD option reply too large', { details: { offset: this.#consumed, option, length } });
        }
        if (q.length < OPTION_REPLY_HEADER_BYTES + length) return undefined;
        this.#take(OPTION_REPLY_HEADER_BYTES);
        return { kind: 'optionReply', option, type, data: Buffer.from(this.#take(length)) };
      }
      case 'exportName': {
        const total = EXPORT_NAME_REPLY_BYTES + (this.#noZeroes ? 0 : NBD_EXPORT_NAME_PADDING_BYTES);
        if (q.length < total) return undefined;
        const b = this.#take(total);
        this.#phase = 'transmission';
        return { kind: 'exportNameReply', sizeBytes: b.readBigUInt64BE(0), transmissionFlags: b.readUInt16BE(8) };
      }
      case 'transmission': {
        if (q.length < 4) return undefined;
        const magic = q.peek(4).readUInt32BE(0);
        if (magic === NBD_STRUCTURED_REPLY_MAGIC) {
          throw new ImageError('UNSUPPORTED', 'structured NBD replies were not negotiated', { details: { offset: this.#consumed } });
        }
        if (magic !== NBD_SIMPLE_REPLY_MAGIC) throw this.#corrupt('bad NBD reply magic');
        if (q.length < SIMPLE_REPLY_BYTES) return undefined;
        const h = q.peek(SIMPLE_REPLY_BYTES);
        const error = h.readUInt32BE(4);
        const cookie = h.readBigUInt64BE(8);
        const dataBytes = error === 0 ? (this.#replyDataBytes(cookie) ?? 0) : 0;
        if (q.length < SIMPLE_REPLY_BYTES + dataBytes) return undefined;
        this.#take(SIMPLE_REPLY_BYTES);
        return { kind: 'simpleReply', error, cookie, data: dataBytes > 0 ? this.#take(dataBytes) : undefined };
      }
    }
  }

  #corrupt(message: string): ImageError {
    return new ImageError('CORRUPT', message, { details: { offset: this.#consumed } });
  }

  #take(n: number): Buffer {
    this.#consumed += n;
    return this.#queue.take(n);
  }
}
