// A small NBD test client on our codec: fixed-newstyle GO/EXPORT_NAME/LIST, and READ/WRITE/FLUSH/DISC with many requests in flight.
import net from 'node:net';

import { NBD_CMD, NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_INFO, NBD_OPT, NBD_REP } from '../../src/format/nbd/constants.js';
import { decodeInfo, decodeServerEntry, encodeClientFlags, encodeInfoRequest, encodeOption, type NbdInfo } from '../../src/format/nbd/handshake.js';
import { ServerStreamParser, type ServerFrame } from '../../src/format/nbd/server-stream-parser.js';
import { encodeRequest } from '../../src/format/nbd/transmission.js';

/** An NBD reply with a non-zero error value. */
export class NbdReplyError extends Error {
  constructor(readonly errno: number) {
    super(`NBD error ${errno}`);
  }
}

/** Where to connect. */
export type NbdTarget = { socketPath: string } | { host: string; port: number };

interface Pending {
  readLength: number;
  resolve: (data: Buffer | undefined) => void;
  reject: (err: Error) => void;
}

/** One connection: connect() performs the handshake; afterwards issue requests concurrently. */
export class NbdTestClient {
  readonly #socket: net.Socket;
  readonly #pending = new Map<bigint, Pending>();
  readonly #parser: ServerStreamParser;
  #frames: ServerFrame[] = [];
  #waiter: (() => void) | undefined;
  #failure: Error | undefined;
  #nextCookie = 1n;
  handshakeFlags = 0;
  infos: NbdInfo[] = [];
  sizeBytes = 0n;
  transmissionFlags = 0;
  /** Set when the server closed the socket. */
  closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#parser = new ServerStreamParser({ replyDataBytes: (c) => this.#pending.get(c)?.readLength });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#parser.push(chunk);
      this.#drainFrames();
    });
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  /** Connects and reads the greeting. */
  static async open(target: NbdTarget): Promise<NbdTestClient> {
    const socket = 'socketPath' in target ? net.connect(target.socketPath) : net.connect(target.port, target.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new NbdTestClient(socket);
    const g = await c.#nextFrame();
    if (g.kind !== 'greeting') throw new Error('expected greeting');
    c.handshakeFlags = g.handshakeFlags;
    c.#socket.write(encodeClientFlags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES));
    return c;
  }

  /** Sends raw bytes (for malformed-input tests). */
  writeRaw(b: Buffer): void {
    this.#socket.write(b);
  }

  /** NBD_OPT_LIST: the export names. */
  async list(): Promise<string[]> {
    this.#socket.write(encodeOption(NBD_OPT.LIST));
    const names: string[] = [];
    for (;;) {
      const f = await this.#optionReply();
      if (f.type === NBD_REP.ACK) return names;
      if (f.type !== NBD_REP.SERVER) throw new Error(`unexpected reply ${f.type}`);
      names.push(decodeServerEntry(f.data).name);
    }
  }

  /** NBD_OPT_INFO or NBD_OPT_GO; resolves with the reply type of the final reply (ACK or an error). */
  async info(name: string, go: boolean, infoTypes: number[] = [NBD_INFO.NAME, NBD_INFO.DESCRIPTION, NBD_INFO.BLOCK_SIZE]): Promise<number> {
    this.#socket.write(encodeOption(go ? NBD_OPT.GO : NBD_OPT.INFO, encodeInfoRequest({ name, infoTypes })));
    this.infos = [];
    for (;;) {
      const f = await this.#optionReply();
      if (f.type === NBD_REP.INFO) {
        const info = decodeInfo(f.data);
        this.infos.push(info);
        if (info.type === 'export') {
          this.sizeBytes = info.sizeBytes;
          this.transmissionFlags = info.transmissionFlags;
        }
        continue;
      }
      if (f.type === NBD_REP.ACK && go) this.#parser.enterTransmission();
      return f.type;
    }
  }

  /** Sends an option and returns its single reply (for unsupported-option tests). */
  async rawOption(option: number, data?: Buffer): Promise<{ type: number; data: Buffer }> {
    this.#socket.write(encodeOption(option, data));
    return this.#optionReply();
  }

  /** NBD_OPT_EXPORT_NAME. */
  async exportName(name: string): Promise<void> {
    this.#parser.expectExportNameReply(true);
    this.#socket.write(encodeOption(NBD_OPT.EXPORT_NAME, Buffer.from(name)));
    const f = await this.#nextFrame();
    if (f.kind !== 'exportNameReply') throw new Error('expected export-name reply');
    this.sizeBytes = f.sizeBytes;
    this.transmissionFlags = f.transmissionFlags;
  }

  /** READ; rejects with NbdReplyError on an error reply. */
  async read(offset: number | bigint, length: number): Promise<Buffer> {
    return (await this.#request(NBD_CMD.READ, BigInt(offset), length, length)) ?? Buffer.alloc(0);
  }

  /** Any command without data in the reply (FLUSH, TRIM, unknown...). */
  async command(type: number, offset = 0n, length = 0, payload?: Buffer): Promise<void> {
    await this.#request(type, offset, length, 0, payload);
  }

  /** NBD_CMD_DISC, then waits for the server to close. */
  async disconnect(): Promise<void> {
    this.#socket.write(encodeRequest({ flags: 0, type: NBD_CMD.DISC, cookie: this.#nextCookie++, offset: 0n, length: 0 }));
    await this.closed;
  }

  /** Closes the socket from our side. */
  destroy(): void {
    this.#socket.destroy();
  }

  #request(type: number, offset: bigint, length: number, readLength: number, payload?: Buffer): Promise<Buffer | undefined> {
    if (this.#failure) return Promise.reject(this.#failure);
    const cookie = this.#nextCookie++;
    return new Promise((resolve, reject) => {
      this.#pending.set(cookie, { readLength, resolve, reject });
      this.#socket.write(encodeRequest({ flags: 0, type, cookie, offset, length }));
      if (payload) this.#socket.write(payload);
    });
  }

  async #optionReply(): Promise<{ type: number; data: Buffer }> {
    const f = await this.#nextFrame();
    if (f.kind !== 'optionReply') throw new Error(`expected option reply, got ${f.kind}`);
    return f;
  }

  #drainFrames(): void {
    try {
      for (let f = this.#parser.next(); f; f = this.#parser.next()) {
        if (f.kind === 'simpleReply') {
          const p = this.#pending.get(f.cookie);
          if (!p) throw new Error(`reply to unknown cookie ${f.cookie}`);
          this.#pending.delete(f.cookie);
          if (f.error !== 0) p.reject(new NbdReplyError(f.error));
          else p.resolve(f.data);
        } else {
          this.#frames.push(f);
          this.#waiter?.();
        }
      }
    } catch (err) {
      this.#fail(err as Error);
      this.#socket.destroy();
    }
  }

  async #nextFrame(): Promise<ServerFrame> {
    while (this.#frames.length === 0) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
      this.#waiter = undefined;
    }
    return this.#frames.shift()!;
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(this.#failure);
    this.#pending.clear();
    this.#waiter?.();
  }
}

