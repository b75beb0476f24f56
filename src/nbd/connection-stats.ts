// Per-connection NBD counters and the hooks a metrics exporter attaches to the server.
import type { ImageError } from '../errors.js';

/** Live counters of one NBD connection (mutated by the server; read them, do not write). */
export interface NbdConnectionStats {
  /** Server-unique connection number. */
  readonly id: number;
  /** "unix" or "host:port" of the peer. */
  readonly peer: string;
  /** Export chosen by NBD_OPT_GO / EXPORT_NAME, undefined while haggling. */
  exportName: string | undefined;
  /** Transmission requests received. */
  requests: number;
  /** READ requests answered successfully and their bytes. */
  reads: number;
  readBytes: number;
  /** Requests answered with a non-zero errno. */
  errors: number;
  /** Requests started but not yet answered, and the most seen at once. */
  inFlight: number;
  maxInFlight: number;
  /** Times reading the socket was paused for backpressure. */
  pauses: number;
}

/** One answered request, for latency histograms. */
export interface NbdRequestEvent {
  connection: NbdConnectionStats;
  /** NBD_CMD_* value. */
  command: number;
  offset: number;
  length: number;
  /** Errno sent (0 = success). */
  errno: number;
  /** Time from parsing the request to handing the reply to the socket. */
  durationMs: number;
}

/** Optional observers of an NbdServer; they must not throw. */
export interface NbdServerHooks {
  onConnect?(stats: NbdConnectionStats): void;
  onDisconnect?(stats: NbdConnectionStats): void;
  onRequest?(event: NbdRequestEvent): void;
  /** Protocol violations and socket errors (the connection is closed), device errors (the request got an errno). */
  onError?(err: ImageError, stats: NbdConnectionStats): void;
}

/** Fresh zeroed counters. */
export function newConnectionStats(id: number, peer: string): NbdConnectionStats {
  return { id, peer, exportName: undefined, requests: 0, reads: 0, readBytes: 0, errors: 0, inFlight: 0, maxInFlight: 0, pauses: 0 };
}
