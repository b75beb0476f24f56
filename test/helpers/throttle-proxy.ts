// A loopback HTTP reverse proxy in front of a registry whose request and response bodies share one token bucket (a slow link for benchmarks), logging every request.
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Transform, pipeline, type TransformCallback } from 'node:stream';

/** One proxied request: what was asked, what came back, and when (ms on the proxy's clock, see `ThrottleProxy.now`). */
export interface ThrottledRequest {
  method: string;
  path: string;
  range: string | undefined;
  status: number;
  /** Body bytes forwarded in both directions (request body + response body). */
  bytes: number;
  startMs: number;
  /** When the response body ended (undefined while running or after an abort). */
  endMs: number | undefined;
}

/** A running proxy. */
export interface ThrottleProxy {
  /** `127.0.0.1:<port>`: the registry part of references through the proxy. */
  host: string;
  /** Body bytes forwarded (both directions, all connections) since the last reset. */
  bytes(): number;
  /** Requests since the last reset. */
  log: ThrottledRequest[];
  /** The proxy's clock (performance.now(), ms). */
  now(): number;
  /** Clears the byte count and the log. */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * A token bucket on a virtual clock: `take(n)` reserves n bytes and returns how long (ms) the caller must wait before
 * sending them. The bucket holds at most `burstBytes` of unused credit; reservations are served in call order.
 */
export class TokenBucket {
  /** Time (ms) up to which the link is already booked. */
  private bookedUntil = -Infinity;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly burstBytes: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Books `n` bytes; the delay in ms before they may go out. */
  take(n: number): number {
    const now = this.clock();
    this.bookedUntil = Math.max(this.bookedUntil, now - (this.burstBytes / this.bytesPerSecond) * 1000) + (n / this.bytesPerSecond) * 1000;
    return Math.max(0, this.bookedUntil - now);
  }
}

/** A stream stage that holds each chunk until the shared bucket lets it through (backpressure pauses the source meanwhile). */
function throttled(bucket: TokenBucket, count: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      count(chunk.length);
      const wait = bucket.take(chunk.length);
      if (wait <= 0) cb(null, chunk);
      else setTimeout(() => cb(null, chunk), wait);
    },
  });
}

/** Request headers that describe one hop and are not forwarded (RFC 9110 §7.6.1). */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/**
 * Starts a proxy on a free 127.0.0.1 port forwarding plain HTTP to `upstream` (`host:port`). Request and response
 * bodies of all connections share one bucket of `bytesPerSecond` (headers pass unthrottled; they are a few hundred
 * bytes per request).
 */
export async function startThrottleProxy(upstream: string, bytesPerSecond: number, burstBytes = 64 * 1024): Promise<ThrottleProxy> {
  const [upHost, upPort] = upstream.split(':') as [string, string];
  const bucket = new TokenBucket(bytesPerSecond, burstBytes);
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  let total = 0;
  const log: ThrottledRequest[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const entry: ThrottledRequest = { method: req.method ?? 'GET', path: req.url ?? '/', range: req.headers.range, status: 0, bytes: 0, startMs: performance.now(), endMs: undefined };
    log.push(entry);
    const count = (n: number) => {
      total += n;
      entry.bytes += n;
    };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_HEADERS.has(k)) headers[k] = v;
    const up = httpRequest({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers, agent }, (upRes) => {
      entry.status = upRes.statusCode ?? 0;
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined && !HOP_HEADERS.has(k)) out[k] = v;
      res.writeHead(upRes.statusCode ?? 502, out);
      pipeline(upRes, throttled(bucket, count), res, (err) => {
        if (!err) entry.endMs = performance.now();
      });
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    pipeline(req, throttled(bucket, count), up, () => undefined);
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
  };

  const server = createServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    bytes: () => total,
    log,
    now: () => performance.now(),
    reset() {
      total = 0;
      log.length = 0;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
