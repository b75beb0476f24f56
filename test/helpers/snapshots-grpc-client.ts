// A Snapshotter that calls a containerd.services.snapshots.v1.Snapshots server over gRPC (as containerd's proxy plugin does).
import * as grpc from '@grpc/grpc-js';
import { ImageError } from '../../src/errors.js';
import { loadSnapshotsProto, snapshotsServiceConstructor } from '../../src/snapshotter/service.js';
import type { SnapshotInfo, SnapshotMount, Snapshotter, SnapshotUsage } from '../../src/snapshotter/snapshot-types.js';
import { ERROR_CODE_OF_GRPC_STATUS as CODE_OF_STATUS } from '../../src/snapshotter/grpc-status.js';

interface WireInfo {
  name: string;
  parent: string;
  kind: SnapshotInfo['kind'];
  created_at: { seconds: number; nanos: number };
  updated_at: { seconds: number; nanos: number };
  labels: Record<string, string>;
}

const toDate = (t: { seconds: number; nanos: number }) => new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
const fromWire = (i: WireInfo): SnapshotInfo => ({ name: i.name, parent: i.parent, kind: i.kind, createdAt: toDate(i.created_at), updatedAt: toDate(i.updated_at), labels: i.labels });
const mountsOf = (r: { mounts: (SnapshotMount & { target: string })[] }): SnapshotMount[] =>
  r.mounts.map((m) => ({ type: m.type, source: m.source, options: m.options, ...(m.target ? { target: m.target } : {}) }));

/** gRPC client for the Snapshots service at unix socket `socketPath`; status codes come back as ImageError codes. */
export class GrpcSnapshotsClient implements Snapshotter {
  readonly raw: grpc.Client & Record<string, (...args: unknown[]) => unknown>;

  constructor(socketPath: string, private readonly snapshotter = 'turbo') {
    const Ctor = snapshotsServiceConstructor(loadSnapshotsProto());
    this.raw = new Ctor(`unix://${socketPath}`, grpc.credentials.createInsecure()) as never;
  }

  /** Calls unary method `method` and converts a failure status into an ImageError. */
  call<T>(method: string, request: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.raw[method]!({ snapshotter: this.snapshotter, ...request }, (err: grpc.ServiceError | null, res: T) => {
        if (err) reject(new ImageError(CODE_OF_STATUS[err.code] ?? 'INTERNAL', err.details || err.message, { details: { grpcStatus: err.code } }));
        else resolve(res);
      });
    });
  }

  async prepare(key: string, parent: string, labels: Record<string, string> = {}) {
    return mountsOf(await this.call('Prepare', { key, parent, labels }));
  }
  async view(key: string, parent: string, labels: Record<string, string> = {}) {
    return mountsOf(await this.call('View', { key, parent, labels }));
  }
  async mounts(key: string) {
    return mountsOf(await this.call('Mounts', { key }));
  }
  async commit(name: string, key: string, labels: Record<string, string> = {}) {
    await this.call('Commit', { name, key, labels });
  }
  async remove(key: string) {
    await this.call('Remove', { key });
  }
  async stat(key: string) {
    return fromWire((await this.call<{ info: WireInfo }>('Stat', { key })).info);
  }
  async update(info: Pick<SnapshotInfo, 'name' | 'labels'> & Partial<SnapshotInfo>, fieldPaths: string[]) {
    const wire = { name: info.name, parent: info.parent ?? '', kind: info.kind ?? 'UNKNOWN', labels: info.labels };
    return fromWire((await this.call<{ info: WireInfo }>('Update', { info: wire, update_mask: { paths: fieldPaths } })).info);
  }
  async usage(key: string): Promise<SnapshotUsage> {
    const r = await this.call<{ size: number; inodes: number }>('Usage', { key });
    return { size: Number(r.size), inodes: Number(r.inodes) };
  }
  walk(filters: string[] = []): Promise<SnapshotInfo[]> {
    return new Promise((resolve, reject) => {
      const out: SnapshotInfo[] = [];
      const stream = (this.raw.List as (req: unknown) => grpc.ClientReadableStream<{ info: WireInfo[] }>)({ snapshotter: this.snapshotter, filters });
      stream.on('data', (m: { info: WireInfo[] }) => out.push(...m.info.map(fromWire)));
      stream.on('error', (err: grpc.ServiceError) => reject(new ImageError(CODE_OF_STATUS[err.code] ?? 'INTERNAL', err.details || err.message)));
      stream.on('end', () => resolve(out));
    });
  }
  async cleanup() {
    await this.call('Cleanup', {});
  }
  async close() {
    this.raw.close();
  }
}
