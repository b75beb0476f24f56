// The gRPC face of a Snapshotter: serves containerd.services.snapshots.v1.Snapshots (our proto/ text) on a unix socket (mode 0600).
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ImageError, toImageError } from '../errors.js';
import { GRPC_STATUS } from './grpc-status.js';
import type { SnapshotterMetrics } from './snapshotter-metrics.js';
import type { SnapshotInfo, SnapshotKind, SnapshotMount, Snapshotter } from './snapshot-types.js';

/** Fully qualified name of the service containerd's proxy snapshotter calls. */
export const SNAPSHOTS_SERVICE = 'containerd.services.snapshots.v1.Snapshots';

/** proto-loader options shared by the server and test clients: field names as in the .proto, enums as names. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true };

/** Directory holding proto/containerd/... (the package's proto/ folder, found from both src/ and dist/src/). */
export function protoRoot(): string {
  for (const up of ['../..', '../../..']) {
    const dir = path.resolve(import.meta.dirname, up, 'proto');
    if (existsSync(path.join(dir, 'containerd'))) return dir;
  }
  throw new ImageError('NOT_FOUND', 'the proto/ directory of turbo-oci is missing', { details: { from: import.meta.dirname } });
}

/** Loads the Snapshots service definition from our .proto files. */
export function loadSnapshotsProto(): grpc.GrpcObject {
  const def = protoLoader.loadSync('containerd/services/snapshots/v1/snapshots.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoRoot()] });
  return grpc.loadPackageDefinition(def);
}

/** The Snapshots service client/server constructor from a loaded package. */
export function snapshotsServiceConstructor(pkg: grpc.GrpcObject): grpc.ServiceClientConstructor {
  let node: unknown = pkg;
  for (const part of SNAPSHOTS_SERVICE.split('.')) node = (node as Record<string, unknown>)[part];
  return node as grpc.ServiceClientConstructor;
}

interface WireTimestamp {
  seconds: number;
  nanos: number;
}

interface WireInfo {
  name: string;
  parent: string;
  kind: SnapshotKind | 'UNKNOWN';
  created_at?: WireTimestamp | null;
  updated_at?: WireTimestamp | null;
  labels: Record<string, string>;
}

function toTimestamp(d: Date): WireTimestamp {
  const ms = d.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function toWireInfo(info: SnapshotInfo): WireInfo {
  return { name: info.name, parent: info.parent, kind: info.kind, created_at: toTimestamp(info.createdAt), updated_at: toTimestamp(info.updatedAt), labels: info.labels };
}

function toWireMounts(mounts: SnapshotMount[]): { mounts: SnapshotMount[] } {
  return { mounts: mounts.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: m.options })) };
}

function toServiceError(err: unknown): grpc.ServiceError {
  const e = toImageError(err);
  const out = new Error(e.message) as grpc.ServiceError;
  out.code = GRPC_STATUS[e.code];
  out.details = e.describe();
  out.metadata = new grpc.Metadata();
  return out;
}

type Req = Record<string, unknown> & { key: string; parent: string; name: string; labels: Record<string, string> };

/** Unary handler: runs `fn` and answers its value or the mapped status; each finished call is reported to `observe`. */
function unary(method: string, fn: (req: Req) => Promise<unknown>, observe: CallObserver): grpc.handleUnaryCall<Req, unknown> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    fn(call.request).then(
      (value) => {
        observe(method, grpc.status.OK, started, undefined);
        callback(null, value);
      },
      (err: unknown) => {
        const e = toServiceError(err);
        observe(method, e.code, started, toImageError(err));
        callback(e);
      },
    );
  };
}

type CallObserver = (method: string, code: grpc.status, started: bigint, error: ImageError | undefined) => void;

/** The observer feeding `metrics` (a no-op without metrics). */
function callObserver(metrics: SnapshotterMetrics | undefined): CallObserver {
  if (!metrics) return () => undefined;
  return (method, code, started, error) => {
    metrics.observeCall(method, code, Number(process.hrtime.bigint() - started) / 1e9);
    // The remote-snapshotter answer: ALREADY_EXISTS naming the index that serves the target.
    if (method === 'Prepare' && error?.code === 'ALREADY_EXISTS' && error.details?.index !== undefined) metrics.lazyPrepares++;
  };
}

function implementation(s: Snapshotter, observe: CallObserver): grpc.UntypedServiceImplementation {
  return {
    Prepare: unary('Prepare', async (r) => toWireMounts(await s.prepare(r.key, r.parent, r.labels)), observe),
    View: unary('View', async (r) => toWireMounts(await s.view(r.key, r.parent, r.labels)), observe),
    Mounts: unary('Mounts', async (r) => toWireMounts(await s.mounts(r.key)), observe),
    Commit: unary('Commit', async (r) => {
      await s.commit(r.name, r.key, r.labels);
      return {};
    }, observe),
    Remove: unary('Remove', async (r) => {
      await s.remove(r.key);
      return {};
    }, observe),
    Stat: unary('Stat', async (r) => ({ info: toWireInfo(await s.stat(r.key)) }), observe),
    Update: unary('Update', async (r) => {
      const info = (r.info ?? {}) as Partial<WireInfo>;
      const mask = (r.update_mask ?? { paths: [] }) as { paths: string[] };
      return { info: toWireInfo(await s.update({ name: info.name ?? '', labels: info.labels ?? {} }, mask.paths)) };
    }, observe),
    List: ((call: grpc.ServerWritableStream<{ filters: string[] }, unknown>) => {
      const started = process.hrtime.bigint();
      s.walk(call.request.filters ?? []).then(
        (infos) => {
          // Batches keep each message far below gRPC's 4 MiB default limit.
          for (let i = 0; i < infos.length; i += 100) call.write({ info: infos.slice(i, i + 100).map(toWireInfo) });
          call.end();
          observe('List', grpc.status.OK, started, undefined);
        },
        (err: unknown) => {
          const e = toServiceError(err);
          observe('List', e.code, started, toImageError(err));
          call.emit('error', e);
        },
      );
    }) as grpc.handleServerStreamingCall<{ filters: string[] }, unknown>,
    Usage: unary('Usage', async (r) => s.usage(r.key), observe),
    Cleanup: unary('Cleanup', async () => {
      await s.cleanup();
      return {};
    }, observe),
  };
}

/** A running snapshot service. */
export interface SnapshotService {
  /** The unix socket path it listens on. */
  socketPath: string;
  /** Stops accepting calls, waits for running ones (forces after `graceMs`), removes the socket. */
  close(graceMs?: number): Promise<void>;
}

/** Options of startSnapshotService. */
export interface SnapshotServiceOptions {
  /** Counts every call (method, status, latency) into these metrics. */
  metrics?: SnapshotterMetrics;
}

/** Serves `snapshotter` on unix socket `socketPath` (a stale socket file is replaced; mode 0600). */
export async function startSnapshotService(snapshotter: Snapshotter, socketPath: string, options: SnapshotServiceOptions = {}): Promise<SnapshotService> {
  if (existsSync(socketPath)) {
    if (!lstatSync(socketPath).isSocket()) {
      throw new ImageError('ALREADY_EXISTS', `${socketPath} exists and is not a socket`, { details: { path: socketPath }, hint: 'choose another --address' });
    }
    unlinkSync(socketPath);
  }
  const ctor = snapshotsServiceConstructor(loadSnapshotsProto());
  const server = new grpc.Server();
  server.addService(ctor.service, implementation(snapshotter, callObserver(options.metrics)));
  // The umask makes the socket 0600 from its creation, not only after the chmod.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
  } catch (cause) {
    throw new ImageError('UNAVAILABLE', `cannot listen on ${socketPath}`, { details: { path: socketPath }, cause });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(socketPath, 0o600);
  return {
    socketPath,
    async close(graceMs = 5000) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (existsSync(socketPath)) unlinkSync(socketPath);
    },
  };
}
