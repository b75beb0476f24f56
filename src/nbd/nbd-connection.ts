// One NBD client connection: fixed-newstyle haggling, then read-only transmission with out-of-order replies and backpressure.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

import { ImageError, toImageError } from '../errors.js';
import { ClientStreamParser } from '../format/nbd/client-stream-parser.js';
import {
  NBD_CMD,
  NBD_ERRNO,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_NO_ZEROES,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_FLUSH,
  NBD_INFO,
  NBD_OPT,
  NBD_REP,
} from '../format/nbd/constants.js';
import {
  decodeInfoRequest,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfo,
  encodeOptionReply,
  encodeServerEntry,
  type NbdBlockSize,
} from '../format/nbd/handshake.js';
import { encodeSimpleReplyHeader, type NbdRequest } from '../format/nbd/transmission.js';
import type { NbdConnectionStats, NbdServerHooks } from './connection-stats.js';
import { nbdErrnoOf } from './errno-map.js';
import type { NbdExport } from './nbd-export.js';

/** Transmission flags of every export: read-only, flush accepted (a no-op), safe for multi-connection clients. */
export const EXPORT_TRANSMISSION_FLAGS = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN;

/** Limits and shared state a connection gets from its server. */
export interface NbdConnectionContext {
  exports: ReadonlyMap<string, NbdExport>;
  defaultExportName: string | undefined;
  blockSize: NbdBlockSize;
  maxInFlightRequests: number;
  maxQueuedReplyBytes: number;
  hooks: NbdServerHooks;
}

/** Serves one socket until the client disconnects or the server drains it. */
export class NbdConnection {
  readonly stats: NbdConnectionStats;
  readonly #socket: Socket;
  readonly #ctx: NbdConnectionContext;
  readonly #parser = new ClientStreamParser();
  readonly #closed: Promise<void>;
  #export: NbdExport | undefined;
  #noZeroes = false;
  #draining = false;
  #paused = false;
  #socketClosed = false;
  #idle: (() => void)[] = [];

  constructor(socket: Socket, stats: NbdConnectionStats, ctx: NbdConnectionContext) {
    this.#socket = socket;
    this.stats = stats;
    this.#ctx = ctx;
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => {
      this.#socketClosed = true;
      this.#notifyIdle();
    });
    socket.on('error', (err) => this.#report(new ImageError('UNAVAILABLE', `NBD socket error: ${err.message}`, { cause: err, details: { peer: stats.peer } })));
    socket.on('data', (chunk: Buffer) => {
      if (this.#draining) return; // after DISC/close we only read on to see the peer's EOF
      this.#parser.push(chunk);
      this.#pump();
    });
    socket.on('drain', () => this.#pump());
    socket.on('end', () => this.drain()); // the server listens with allowHalfOpen: in-flight replies still go out
    socket.setNoDelay?.(true);
    socket.write(encodeGreeting(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES));
  }

  /** Resolves when the socket is closed and every started request has settled. */
  async settled(): Promise<void> {
    await this.#closed;
    while (this.stats.inFlight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Stops taking requests, lets in-flight replies go out, then ends the socket. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#socket.pause();
    if (this.#parser.phase !== 'transmission') this.#end();
    else this.#endWhenIdle();
  }

  /** Closes the socket at once (in-flight replies are dropped). */
  destroy(): void {
    this.#socket.destroy();
  }

  #pump(): void {
    try {
      while (!this.#draining && !this.#socketClosed && !this.#saturated()) {
        const frame = this.#parser.next();
        if (!frame) break;
        if (frame.kind === 'clientFlags') this.#onClientFlags(frame.flags);
        else if (frame.kind === 'option') this.#onOption(frame.option, frame.data);
        else this.#onRequest(frame.request);
      }
    } catch (err) {
      this.#report(toImageError(err));
      this.#socket.destroy();
      return;
    }
    const shouldPause = !this.#draining && this.#saturated();
    if (shouldPause && !this.#paused) {
      this.#paused = true;
      this.stats.pauses++;
      this.#socket.pause();
    } else if (!shouldPause && this.#paused && !this.#draining) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #saturated(): boolean {
    return this.stats.inFlight >= this.#ctx.maxInFlightRequests || this.#socket.writableLength >= this.#ctx.maxQueuedReplyBytes;
  }

  #onClientFlags(flags: number): void {
    const known = NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES;
    if ((flags & ~known) !== 0) throw new ImageError('UNSUPPORTED', 'unknown NBD client flags', { details: { flags } });
    this.#noZeroes = (flags & NBD_FLAG_C_NO_ZEROES) !== 0;
  }

  #lookup(name: string): NbdExport | undefined {
    return this.#ctx.exports.get(name === '' ? (this.#ctx.defaultExportName ?? '') : name);
  }

  #reply(option: number, type: number, data?: Buffer | string): void {
    this.#socket.write(encodeOptionReply(option, type, typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
  }

  #onOption(option: number, data: Buffer): void {
    switch (option) {
      case NBD_OPT.EXPORT_NAME: {
        const exp = this.#lookup(data.toString('utf8'));
        if (!exp) throw new ImageError('NOT_FOUND', 'NBD client asked for an unknown export', { details: { export: data.toString('utf8') } });
        this.#socket.write(encodeExportNameReply({ sizeBytes: BigInt(exp.device.sizeBytes), transmissionFlags: EXPORT_TRANSMISSION_FLAGS }, this.#noZeroes));
        this.#enterTransmission(exp);
        return;
      }
      case NBD_OPT.ABORT:
        this.#reply(option, NBD_REP.ACK);
        this.#draining = true;
        this.#end();
        return;
      case NBD_OPT.LIST:
        if (data.length !== 0) return this.#reply(option, NBD_REP.ERR_INVALID, 'NBD_OPT_LIST takes no data');
        for (const exp of this.#ctx.exports.values()) this.#reply(option, NBD_REP.SERVER, encodeServerEntry(exp.name, exp.description));
        return this.#reply(option, NBD_REP.ACK);
      case NBD_OPT.INFO:
      case NBD_OPT.GO:
        return this.#onInfo(option, data);
      default:
        return this.#reply(option, NBD_REP.ERR_UNSUP, `option ${option} is not supported`);
    }
  }

  #onInfo(option: number, data: Buffer): void {
    let request;
    try {
      request = decodeInfoRequest(data);
    } catch (err) {
      return this.#reply(option, NBD_REP.ERR_INVALID, (err as Error).message);
    }
    const exp = this.#lookup(request.name);
    if (!exp) return this.#reply(option, NBD_REP.ERR_UNKNOWN, `no export named "${request.name}"`);
    this.#reply(option, NBD_REP.INFO, encodeInfo({ type: 'export', sizeBytes: BigInt(exp.device.sizeBytes), transmissionFlags: EXPORT_TRANSMISSION_FLAGS }));
    if (request.infoTypes.includes(NBD_INFO.NAME)) this.#reply(option, NBD_REP.INFO, encodeInfo({ type: 'name', name: exp.name }));
    if (request.infoTypes.includes(NBD_INFO.DESCRIPTION) && exp.description) {
      this.#reply(option, NBD_REP.INFO, encodeInfo({ type: 'description', description: exp.description }));
    }
    this.#reply(option, NBD_REP.INFO, encodeInfo({ type: 'blockSize', ...this.#ctx.blockSize }));
    this.#reply(option, NBD_REP.ACK);
    if (option === NBD_OPT.GO) this.#enterTransmission(exp);
  }

  #enterTransmission(exp: NbdExport): void {
    this.#export = exp;
    this.stats.exportName = exp.name;
    this.#parser.enterTransmission();
  }

  #onRequest(req: NbdRequest): void {
    this.stats.requests++;
    const started = performance.now();
    switch (req.type) {
      case NBD_CMD.READ:
        return this.#onRead(req, started);
      case NBD_CMD.FLUSH:
        return this.#sendReply(req, NBD_ERRNO.OK, undefined, started);
      case NBD_CMD.DISC:
        this.drain();
        return;
      case NBD_CMD.WRITE:
      case NBD_CMD.TRIM:
      case NBD_CMD.WRITE_ZEROES:
        return this.#sendReply(req, NBD_ERRNO.EPERM, undefined, started);
      default:
        return this.#sendReply(req, NBD_ERRNO.EINVAL, undefined, started);
    }
  }

  #onRead(req: NbdRequest, started: number): void {
    const device = this.#export!.device;
    const end = req.offset + BigInt(req.length);
    if (req.length === 0 || req.length > this.#ctx.blockSize.maximumBytes || end > BigInt(device.sizeBytes)) {
      return this.#sendReply(req, NBD_ERRNO.EINVAL, undefined, started);
    }
    const offset = Number(req.offset);
    this.stats.inFlight++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight);
    device.read(offset, req.length).then(
      (data) => {
        if (data.length !== req.length) {
          const err = new ImageError('INTERNAL', 'block device returned a short read', { details: { offset, length: req.length, got: data.length } });
          this.#report(err);
          this.#finishRead(req, nbdErrnoOf(err), undefined, started);
        } else this.#finishRead(req, NBD_ERRNO.OK, data, started);
      },
      (err: unknown) => {
        this.#report(toImageError(err));
        this.#finishRead(req, nbdErrnoOf(err), undefined, started);
      },
    );
  }

  #finishRead(req: NbdRequest, errno: number, data: Buffer | undefined, started: number): void {
    this.stats.inFlight--;
    this.#sendReply(req, errno, data, started);
    this.#notifyIdle();
    if (this.#draining) this.#endWhenIdle();
    else this.#pump();
  }

  #sendReply(req: NbdRequest, errno: number, data: Buffer | undefined, started: number): void {
    if (errno === 0 && req.type === NBD_CMD.READ) {
      this.stats.reads++;
      this.stats.readBytes += req.length;
    } else if (errno !== 0) this.stats.errors++;
    if (this.#socket.writable) {
      // Header and data go out back to back: writes queued in one tick are never interleaved with other replies.
      this.#socket.cork();
      this.#socket.write(encodeSimpleReplyHeader(errno, req.cookie));
      if (data) this.#socket.write(data);
      this.#socket.uncork();
    }
    const onRequest = this.#ctx.hooks.onRequest;
    if (!onRequest) return;
    onRequest({
      connection: this.stats,
      command: req.type,
      offset: Number(req.offset),
      length: req.length,
      errno,
      durationMs: performance.now() - started,
    });
  }

  #endWhenIdle(): void {
    if (this.stats.inFlight === 0) this.#end();
  }

  /** Ends our side and reads on (discarding) so the peer's EOF closes the half-open socket. */
  #end(): void {
    if (!this.#socket.writableEnded) this.#socket.end();
    this.#socket.resume();
  }

  #notifyIdle(): void {
    if (this.stats.inFlight > 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  #report(err: ImageError): void {
    this.#ctx.hooks.onError?.(err, this.stats);
  }
}
