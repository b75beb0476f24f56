// Incremental parser of the bytes an NBD client sends: client flags, then options, then transmission requests.
import { NBD_MAX_OPTION_BYTES } from '../../defaults.js';
import { ImageError } from '../../errors.js';
import { NBD_CMD, NBD_IHAVEOPT, NBD_REQUEST_MAGIC } from './constants.js';
import { ByteQueue } from './byte-queue.js';
import { OPTION_HEADER_BYTES } from './handshake.js';
import { decodeRequest, REQUEST_BYTES, type NbdRequest } from './transmission.js';

/** A complete message from the client. A WRITE's payload is discarded by the parser (this server is read-only). */
export type ClientFrame =
  | { kind: 'clientFlags'; flags: number }
  | { kind: 'option'; option: number; data: Buffer }
  | { kind: 'request'; request: NbdRequest };

/** Where the parser is in the protocol. */
export type ClientStreamPhase = 'clientFlags' | 'options' | 'transmission';

/** Options of a ClientStreamParser. */
export interface ClientStreamParserOptions {
  /** Start phase (tests start in 'transmission'). */
  phase?: ClientStreamPhase;
  /** Largest option payload accepted. */
  maxOptionBytes?: number;
}

/**
 * Feed bytes with push(), pull frames with next() until it returns undefined. Works for any chunking, down to
 * one byte at a time. The server calls enterTransmission() after a successful NBD_OPT_GO / EXPORT_NAME, before pulling
 * the next frame. Malformed input throws ImageError (CORRUPT, LIMIT_EXCEEDED); the stream is then unusable.
 */
export class ClientStreamParser {
  readonly #queue = new ByteQueue();
  readonly #maxOptionBytes: number;
  #phase: ClientStreamPhase;
  #skipBytes = 0; // WRITE payload still to discard
  #consumed = 0; // stream offset, for error details

  constructor(options: ClientStreamParserOptions = {}) {
    this.#phase = options.phase ?? 'clientFlags';
    this.#maxOptionBytes = options.maxOptionBytes ?? NBD_MAX_OPTION_BYTES;
  }

  /** Current phase. */
  get phase(): ClientStreamPhase {
    return this.#phase;
  }

  /** Bytes received and not yet parsed (excluding discarded payload). */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /** Switches from option haggling to transmission. */
  enterTransmission(): void {
    this.#phase = 'transmission';
  }

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    this.#queue.push(chunk);
  }

  /** The next complete frame, or undefined when more bytes are needed. */
  next(): ClientFrame | undefined {
    if (this.#skipBytes > 0) {
      const n = this.#queue.skip(this.#skipBytes);
      this.#skipBytes -= n;
      this.#consumed += n;
      if (this.#skipBytes > 0) return undefined;
    }
    switch (this.#phase) {
      case 'clientFlags': {
        if (this.#queue.length < 4) return undefined;
        const flags = this.#take(4).readUInt32BE(0);
        this.#phase = 'options';
        return { kind: 'clientFlags', flags };
      }
      case 'options': {
        if (this.#queue.length < OPTION_HEADER_BYTES) return undefined;
        const h = this.#queue.peek(OPTION_HEADER_BYTES);
        const magic = h.readBigUInt64BE(0);
        if (magic !== NBD_IHAVEOPT) {
          throw new ImageError('CORRUPT', 'NBD option does not start with IHAVEOPT', { details: { offset: this.#consumed, magic: `0x${magic.toString(16)}` } });
        }
        const option = h.readUInt32BE(8);
        const length = h.readUInt32BE(12);
        if (length > this.#maxOptionBytes) {
          throw new ImageError('LIMIT_EXCEEDED', 'NBD option payload too large', { details: { offset: this.#consumed, option, length, limit: this.#maxOptionBytes } });
        }
        if (this.#queue.length < OPTION_HEADER_BYTES + length) return undefined;
        this.#take(OPTION_HEADER_BYTES);
        return { kind: 'option', option, data: Buffer.from(this.#take(length)) };
      }
      case 'transmission': {
        if (this.#queue.length < REQUEST_BYTES) return undefined;
        const h = this.#queue.peek(REQUEST_BYTES);
        const magic = h.readUInt32BE(0);
        if (magic !== NBD_REQUEST_MAGIC) {
          throw new ImageError('CORRUPT', 'bad NBD request magic', { details: { offset: this.#consumed, magic: `0x${magic.toString(16)}` } });
        }
        const request = decodeRequest(h);
        this.#take(REQUEST_BYTES);
        if (request.type === NBD_CMD.WRITE) this.#skipBytes = request.length;
        return { kind: 'request', request };
      }
    }
  }

  #take(n: number): Buffer {
    this.#consumed += n;
    return this.#queue.take(n);
  }
}
