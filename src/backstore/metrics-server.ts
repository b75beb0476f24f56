// A Prometheus endpoint (backstore, snapshotter): GET /metrics answers the text exposition format 0.0.4 (node:http).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ImageError } from '../errors.js';

/** Anything that renders its metrics in the text exposition format 0.0.4. */
export interface MetricsSource {
  prometheusText(): string | Promise<string>;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string;
  close(): Promise<void>;
}

/** Parses `host:port` (port 0 picks a free one); INVALID_ARGUMENT otherwise. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new ImageError('INVALID_ARGUMENT', `--metrics-address must be host:port, got '${text}'`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Serves `metrics` at `address` (`host:port`). */
export async function startMetricsServer(metrics: MetricsSource, address: string): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(address);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    Promise.resolve()
      .then(() => metrics.prometheusText())
      .then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${String(err)}\n`),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ImageError('UNAVAILABLE', `cannot listen on ${address}`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${shown}:${a.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
