// NbdServer: serves named read-only BlockDevices over unix sockets and loopback TCP (node:net), with graceful close.
import { existsSync, lstatSync, rmSync } from 'node:fs';
import net from 'node:net';

import { NBD_CLOSE_GRACE_MS, NBD_MAX_IN_FLIGHT_REQUESTS, NBD_MAX_QUEUED_REPLY_BYTES, NBD_MAX_REQUEST_BYTES, NBD_PREFERRED_BLOCK_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';
import { NBD_MAX_STRING_BYTES } from '../format/nbd/constants.js';
import { newConnectionStats, type NbdConnectionStats, type NbdServerHooks } from './connection-stats.js';
import { NbdConnection } from './nbd-connection.js';
import type { NbdExport } from './nbd-export.js';

/** Where to listen: a unix socket path, or TCP (host defaults to 127.0.0.1, port 0 = any free port). */
export type NbdListenAddress = { socketPath: string } | { tcp: { host?: string; port?: number } };

/** Options of an NbdServer. */
export interface NbdServerOptions {
  /** Export used when a client asks for "" (default: the first export). */
  defaultExportName?: string;
  /** Requests one connection may have in flight before its socket is paused. */
  maxInFlightRequests?: number;
  /** Queued reply bytes per socket before its reading is paused. */
  maxQueuedReplyBytes?: number;
  /** Largest READ served, advertised as the block size maximum. */
  maxRequestBytes?: number;
  /** Time close() waits for in-flight replies before destroying sockets. */
  closeGraceMs?: number;
  hooks?: NbdServerHooks;
}

/** The address a listening server is reachable at, with its NBD URI (RFC-style, as libnbd parses it). */
export interface NbdEndpoint {
  kind: 'unix' | 'tcp';
  socketPath?: string;
  host?: string;
  port?: number;
}

/** NBD URI of `endpoint` naming `exportName` (nbd+unix:///name?socket=path or nbd://host:port/name). */
export function nbdUri(endpoint: NbdEndpoint, exportName: string): string {
  const name = encodeURIComponent(exportName);
  if (endpoint.kind === 'unix') return `nbd+unix:///${name}?socket=${encodeURIComponent(endpoint.socketPath!)}`;
  const host = endpoint.host!.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `nbd://${host}:${endpoint.port}/${name}`;
}

/** A read-only NBD server over one or more named exports. */
export class NbdServer {
  readonly #exports = new Map<string, NbdExport>();
  readonly #options: NbdServerOptions;
  readonly #listeners: net.Server[] = [];
  readonly #connections = new Set<NbdConnection>();
  readonly #socketPaths: string[] = [];
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(exports: NbdExport[], options: NbdServerOptions = {}) {
    if (exports.length === 0) throw new ImageError('INVALID_ARGUMENT', 'an NBD server needs at least one export');
    for (const exp of exports) {
      if (this.#exports.has(exp.name)) throw new ImageError('ALREADY_EXISTS', 'duplicate NBD export name', { details: { export: exp.name } });
      if (Buffer.byteLength(exp.name) > NBD_MAX_STRING_BYTES) throw new ImageError('INVALID_ARGUMENT', 'NBD export name longer than 4096 bytes');
      this.#exports.set(exp.name, exp);
    }
    const defaultName = options.defaultExportName ?? exports[0]!.name;
    if (!this.#exports.has(defaultName)) throw new ImageError('INVALID_ARGUMENT', 'default NBD export does not exist', { details: { export: defaultName } });
    this.#options = { ...options, defaultExportName: defaultName };
  }

  /** Live stats of the open connections. */
  connections(): NbdConnectionStats[] {
    return [...this.#connections].map((c) => c.stats);
  }

  /** Starts listening; may be called once per address. Returns where clients connect. */
  async listen(address: NbdListenAddress): Promise<NbdEndpoint> {
    if (this.#closing) throw new ImageError('FAILED_PRECONDITION', 'NBD server is closed');
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.#accept(socket));
    if ('socketPath' in address) await removeStaleSocket(address.socketPath);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ImageError(err.code === 'EADDRINUSE' ? 'ALREADY_EXISTS' : 'UNAVAILABLE', `cannot listen for NBD: ${err.message}`, { cause: err })),
      );
      if ('socketPath' in address) server.listen(address.socketPath, resolve);
      else server.listen(address.tcp.port ?? 0, address.tcp.host ?? '127.0.0.1', resolve);
    });
    this.#listeners.push(server);
    if ('socketPath' in address) {
      this.#socketPaths.push(address.socketPath);
      return { kind: 'unix', socketPath: address.socketPath };
    }
    const a = server.address() as net.AddressInfo;
    return { kind: 'tcp', host: a.address, port: a.port };
  }

  /** Stops listening, lets every connection finish its in-flight replies (up to the grace time), then closes them. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const stopped = Promise.all(this.#listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    const conns = [...this.#connections];
    for (const c of conns) c.drain();
    const grace = this.#options.closeGraceMs ?? NBD_CLOSE_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const c of conns) c.destroy();
        resolve();
      }, grace);
    });
    await Promise.race([Promise.all(conns.map((c) => c.settled())), timedOut]);
    clearTimeout(timer);
    await Promise.all(conns.map((c) => c.settled()));
    await stopped;
    for (const p of this.#socketPaths) rmSync(p, { force: true });
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    const stats = newConnectionStats(this.#nextId++, peer);
    const o = this.#options;
    const conn = new NbdConnection(socket, stats, {
      exports: this.#exports,
      defaultExportName: o.defaultExportName,
      blockSize: { minimumBytes: 1, preferredBytes: NBD_PREFERRED_BLOCK_BYTES, maximumBytes: o.maxRequestBytes ?? NBD_MAX_REQUEST_BYTES },
      maxInFlightRequests: o.maxInFlightRequests ?? NBD_MAX_IN_FLIGHT_REQUESTS,
      maxQueuedReplyBytes: o.maxQueuedReplyBytes ?? NBD_MAX_QUEUED_REPLY_BYTES,
      hooks: o.hooks ?? {},
    });
    this.#connections.add(conn);
    o.hooks?.onConnect?.(stats);
    void conn.settled().then(() => {
      this.#connections.delete(conn);
      o.hooks?.onDisconnect?.(stats);
    });
  }
}

/** Removes a leftover unix socket nobody listens on; ALREADY_EXISTS when a live server or a non-socket file is there. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!existsSync(socketPath)) return;
  if (!lstatSync(socketPath).isSocket()) {
    throw new ImageError('ALREADY_EXISTS', 'NBD socket path exists and is not a socket', { details: { path: socketPath } });
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new ImageError('ALREADY_EXISTS', 'another server listens on the NBD socket', { details: { path: socketPath } });
  rmSync(socketPath, { force: true });
}
