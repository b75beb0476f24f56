// A loopback reverse proxy in front of a real registry that injects faults per request: resets, error statuses, trickle, flipped bytes, stalls, redirects.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One fault to apply to one proxied request. */
export type Fault =
  | { kind: 'status'; status: number; retryAfterS?: number; body?: string }
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'trickle'; chunkBytes: number; delayMs: number }
  | { kind: 'flip'; offset: number }
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'redirect'; location: string }
  /** Forward without the Range header, so the registry answers 200 with the whole blob. */
  | { kind: 'ignore-range' }
  /** Forward `afterBytes` of the request body, then cut both connections (an upload dropped mid-chunk). */
  | { kind: 'reset-request'; afterBytes: number };

/** What the plan sees of a request: method, path+query, headers, and how many requests matched before on the same path. */
export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  seen: number;
}

/** Decides the fault of each request (undefined: pass through untouched). */
export type FaultPlan = (request: ProxiedRequest) => Fault | undefined;

/** A running proxy. `plan` can be swapped per test; `log` lists `METHOD path [fault]`. */
export interface FaultProxy {
  host: string;
  plan: FaultPlan;
  log: { method: string; path: string; range: string | undefined; fault: string | undefined }[];
  /** Clears the plan, the log and the per-path counters. */
  reset(): void;
  stop(): Promise<void>;
}

/** Starts a proxy on a free 127.0.0.1 port forwarding to `upstream` (`host:port`, plain HTTP). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const [upHost, upPort] = upstream.split(':') as [string, string];
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = {
    host: '',
    plan: () => undefined,
    log: [],
    reset() {
      proxy.plan = () => undefined;
      proxy.log.length = 0;
      counts.clear();
    },
    stop: async () => undefined,
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const key = `${req.method} ${path.replace(/\?.*$/, '')}`;
    const seen = counts.get(key) ?? 0;
    counts.set(key, seen + 1);
    const fault = proxy.plan({ method: req.method ?? 'GET', path, headers: req.headers, seen });
    proxy.log.push({ method: req.method ?? 'GET', path, range: req.headers.range, fault: fault?.kind });
    if (fault?.kind === 'status') {
      req.resume();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fault.retryAfterS !== undefined) headers['retry-after'] = String(fault.retryAfterS);
      res.writeHead(fault.status, headers);
      res.end(fault.body ?? JSON.stringify({ errors: [{ code: fault.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected' }] }));
      return;
    }
    if (fault?.kind === 'redirect') {
      req.resume();
      res.writeHead(307, { location: fault.location });
      res.end();
      return;
    }
    const headers = { ...req.headers };
    if (fault?.kind === 'ignore-range') delete headers.range;
    const upstreamReq = httpRequest({ host: upHost, port: Number(upPort), method: req.method, path, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      let sent = 0;
      let stopped = false;
      up.on('data', (chunk: Buffer) => {
        if (stopped) return;
        if (fault?.kind === 'reset' || fault?.kind === 'stall') {
          if (sent + chunk.length > fault.afterBytes) {
            res.write(chunk.subarray(0, Math.max(0, fault.afterBytes - sent)));
            stopped = true;
            up.destroy();
            if (fault.kind === 'reset') setTimeout(() => res.socket?.destroy(), 20);
            return;
          }
        }
        if (fault?.kind === 'flip' && fault.offset >= sent && fault.offset < sent + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[fault.offset - sent] = chunk[fault.offset - sent]! ^ 0xff;
        }
        sent += chunk.length;
        if (fault?.kind === 'trickle') {
          up.pause();
          let i = 0;
          const step = () => {
            if (res.destroyed) return;
            if (i >= chunk.length) return up.resume();
            res.write(chunk.subarray(i, i + fault.chunkBytes));
            i += fault.chunkBytes;
            setTimeout(step, fault.delayMs);
          };
          step();
          return;
        }
        if (!res.write(chunk)) {
          up.pause();
          res.once('drain', () => up.resume());
        }
      });
      up.on('end', () => {
        if (stopped) return;
        if (fault?.kind === 'trickle') {
          const finish = () => (up.isPaused() ? setTimeout(finish, 5) : res.end());
          finish();
        } else res.end();
      });
    });
    upstreamReq.on('error', () => res.destroy());
    if (fault?.kind === 'reset-request') {
      let forwarded = 0;
      req.on('data', (chunk: Buffer) => {
        if (forwarded >= fault.afterBytes) return;
        const part = chunk.subarray(0, fault.afterBytes - forwarded);
        forwarded += part.length;
        upstreamReq.write(part);
        if (forwarded >= fault.afterBytes) {
          // let the registry take the bytes, then drop both sides
          setTimeout(() => {
            upstreamReq.destroy();
            req.socket.destroy();
          }, 100);
        }
      });
      return;
    }
    req.pipe(upstreamReq);
  };

  const server: Server = createServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}

/** Bytes of blob `digest` fetched by the GETs in `log` (a proxy's log since its last reset): the sum of their `bytes=a-b` ranges, `blobSize` for a GET without one. */
export function layerBytesFetched(log: FaultProxy['log'], digest: string, blobSize: number): number {
  return log
    .filter((r) => r.method === 'GET' && r.path.includes(digest))
    .reduce((sum, r) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
      return sum + (m ? Number(m[2]) - Number(m[1]) + 1 : blobSize);
    }, 0);
}
