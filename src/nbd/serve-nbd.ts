// serveNbd: the one call a backstore needs to expose a BlockDevice over NBD (unix socket or loopback TCP).
import { ImageError } from '../errors.js';
import type { BlockDevice } from '../format/block-device.js';
import type { NbdServerHooks } from './connection-stats.js';
import { NbdServer, nbdUri, type NbdEndpoint, type NbdServerOptions } from './nbd-server.js';

/** Where and under which name to serve. */
export interface ServeNbdOptions extends Omit<NbdServerOptions, 'hooks'> {
  /** Unix socket path (preferred: file permissions guard it). */
  socketPath?: string;
  /** Loopback TCP instead of (or as well as) the unix socket; port 0 picks a free port. */
  tcp?: { host?: string; port?: number };
  /** Export name (default ""). */
  exportName?: string;
  description?: string;
  hooks?: NbdServerHooks;
}

/** A running NBD service. */
export interface NbdService {
  server: NbdServer;
  endpoints: NbdEndpoint[];
  /** NBD URI of the first endpoint (what nbdinfo/nbdcopy/nbdfuse take). */
  uri: string;
  /** Graceful stop; does not close the device. */
  close(): Promise<void>;
}

/** Serves `device` read-only; at least one of socketPath and tcp must be given. */
export async function serveNbd(device: BlockDevice, options: ServeNbdOptions): Promise<NbdService> {
  if (options.socketPath === undefined && options.tcp === undefined) throw new ImageError('INVALID_ARGUMENT', 'serveNbd needs socketPath or tcp');
  const exportName = options.exportName ?? '';
  const server = new NbdServer([{ name: exportName, device, description: options.description }], options);
  const endpoints: NbdEndpoint[] = [];
  try {
    if (options.socketPath !== undefined) endpoints.push(await server.listen({ socketPath: options.socketPath }));
    if (options.tcp !== undefined) endpoints.push(await server.listen({ tcp: options.tcp }));
  } catch (err) {
    await server.close();
    throw err;
  }
  return { server, endpoints, uri: nbdUri(endpoints[0]!, exportName), close: () => server.close() };
}
