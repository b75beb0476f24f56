// A tiny loopback registry that serves only what distribution 2.8 lacks: the referrers API (distribution-spec 1.1), plus manifest PUT answering OCI-Subject.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Descriptor } from '../../src/format/oci/manifest.js';

/** Behaviour switches of the referrers server. */
export interface ReferrersServerOptions {
  /** Descriptors per page; more are announced with `Link: <...>; rel="next"`. */
  pageSize?: number;
  /** Apply the artifactType filter and say so with OCI-Filters-Applied (false: ignore it, like some registries). */
  applyFilter?: boolean;
}

/** A running referrers server: `host` for references, `referrers` to seed, `requests` to inspect. */
export interface ReferrersServer {
  host: string;
  referrers: Map<string, Descriptor[]>;
  requests: string[];
  stop(): Promise<void>;
}

/** Starts the server on a free 127.0.0.1 port. */
export async function startReferrersServer(options: ReferrersServerOptions = {}): Promise<ReferrersServer> {
  const pageSize = options.pageSize ?? 2;
  const referrers = new Map<string, Descriptor[]>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const list = /^\/v2\/(.+)\/referrers\/([a-z0-9]+:[a-f0-9]+)$/.exec(url.pathname);
      if (req.method === 'GET' && list) {
        const artifactType = url.searchParams.get('artifactType');
        let all = referrers.get(list[2]!) ?? [];
        const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
        if (artifactType && options.applyFilter !== false) {
          all = all.filter((d) => d.artifactType === artifactType);
          headers['oci-filters-applied'] = 'artifactType';
        }
        const start = Number(url.searchParams.get('page') ?? 0);
        const page = all.slice(start, start + pageSize);
        if (start + pageSize < all.length) {
          const next = new URLSearchParams(url.searchParams);
          next.set('page', String(start + pageSize));
          headers.link = `<${url.pathname}?${next.toString()}>; rel="next"`;
        }
        res.writeHead(200, headers);
        res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: page }));
        return;
      }
      const put = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'PUT' && put) {
        const body = Buffer.concat(chunks);
        const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
        const manifest = JSON.parse(body.toString()) as { subject?: Descriptor; artifactType?: string; config?: Descriptor; annotations?: Record<string, string> };
        const headers: Record<string, string> = { 'docker-content-digest': digest, location: `/v2/${put[1]}/manifests/${digest}` };
        if (manifest.subject) {
          const entry: Descriptor = { mediaType: String(req.headers['content-type']), digest, size: body.length };
          const type = manifest.artifactType ?? manifest.config?.mediaType;
          if (type) entry.artifactType = type;
          if (manifest.annotations) entry.annotations = manifest.annotations;
          referrers.set(manifest.subject.digest, [...(referrers.get(manifest.subject.digest) ?? []), entry]);
          headers['oci-subject'] = manifest.subject.digest;
        }
        res.writeHead(201, headers);
        res.end();
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    referrers,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
