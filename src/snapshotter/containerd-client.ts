// A minimal gRPC client of containerd v1.6 (content Write, images Create/Update, leases, snapshots Prepare/Stat/Remove) over its unix socket.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ImageError } from '../errors.js';
import { PROTO_LOADER_OPTIONS, protoRoot } from './service.js';
import { ERROR_CODE_OF_GRPC_STATUS as CODE_OF_STATUS } from './grpc-status.js';

type RawClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function toImageError(err: grpc.ServiceError, what: string): ImageError {
  return new ImageError(CODE_OF_STATUS[err.code] ?? 'INTERNAL', `containerd ${what}: ${err.details || err.message}`, { details: { grpcStatus: err.code } });
}

/** A descriptor as containerd's types.Descriptor. */
export interface ContainerdDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** containerd's API in one namespace; every call carries the namespace and, inside withLease, the lease. */
export class ContainerdClient {
  private readonly clients = new Map<string, RawClient>();
  private lease: string | undefined;

  constructor(private readonly socketPath: string, private readonly namespace = 'default') {}

  private client(file: string, service: string): RawClient {
    let c = this.clients.get(service);
    if (!c) {
      const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(file, { ...PROTO_LOADER_OPTIONS, includeDirs: [protoRoot()] }));
      let node: unknown = pkg;
      for (const part of service.split('.')) node = (node as Record<string, unknown>)[part];
      c = new (node as grpc.ServiceClientConstructor)(`unix://${this.socketPath}`, grpc.credentials.createInsecure()) as RawClient;
      this.clients.set(service, c);
    }
    return c;
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set('containerd-namespace', this.namespace);
    if (this.lease) md.set('containerd-lease', this.lease);
    return md;
  }

  private unary<T>(file: string, service: string, method: string, request: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client(file, service)[method]!(request, this.metadata(), (err: grpc.ServiceError | null, res: T) => (err ? reject(toImageError(err, `${method}`)) : resolve(res)));
    });
  }

  /** Runs `fn` under a fresh containerd lease (so nothing written is collected before the image refers to it), deleted afterwards. */
  async withLease<T>(fn: () => Promise<T>): Promise<T> {
    const file = 'containerd/services/leases/v1/leases.proto';
    const svc = 'containerd.services.leases.v1.Leases';
    const id = `turbo-pull-${randomBytes(6).toString('hex')}`;
    await this.unary(file, svc, 'Create', { id, labels: { 'containerd.io/gc.expire': new Date(Date.now() + 3_600_000).toISOString() } });
    this.lease = id;
    try {
      return await fn();
    } finally {
      this.lease = undefined;
      await this.unary(file, svc, 'Delete', { id, sync: false }).catch(() => undefined);
    }
  }

  /** Writes `data` (digest `digest`) into the content store with `labels`; content that is already there is fine. */
  writeBlob(data: Buffer, digest: string, labels: Record<string, string>): Promise<void> {
    const call = (this.client('containerd/services/content/v1/content.proto', 'containerd.services.content.v1.Content').Write as (md: grpc.Metadata) => grpc.ClientDuplexStream<unknown, unknown>)(this.metadata());
    return new Promise((resolve, reject) => {
      let done = false;
      call.on('data', () => {
        if (!done) {
          done = true;
          call.end();
          resolve();
        }
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (done) return;
        done = true;
        if (err.code === grpc.status.ALREADY_EXISTS) resolve();
        else reject(toImageError(err, `content write of ${digest}`));
      });
      call.on('end', () => {
        if (!done) {
          done = true;
          resolve();
        }
      });
      call.write({ action: 'COMMIT', ref: `turbo-pull-${digest}`, total: data.length, expected: digest, offset: 0, data, labels });
    });
  }

  /** Creates image `name` pointing at `target`, or updates it when it exists. */
  async putImage(name: string, target: ContainerdDescriptor, labels: Record<string, string> = {}): Promise<void> {
    const file = 'containerd/services/images/v1/images.proto';
    const svc = 'containerd.services.images.v1.Images';
    const image = { name, labels, target: { media_type: target.mediaType, digest: target.digest, size: target.size, annotations: {} } };
    try {
      await this.unary(file, svc, 'Create', { image });
    } catch (err) {
      if (!(err instanceof ImageError) || err.code !== 'ALREADY_EXISTS') throw err;
      await this.unary(file, svc, 'Update', { image });
    }
  }

  private snapshots<T>(method: string, request: Record<string, unknown>): Promise<T> {
    return this.unary('containerd/services/snapshots/v1/snapshots.proto', 'containerd.services.snapshots.v1.Snapshots', method, request);
  }

  /** Snapshots.Prepare through containerd (its metadata layer, then the snapshotter). */
  async prepareSnapshot(snapshotter: string, key: string, parent: string, labels: Record<string, string>): Promise<void> {
    await this.snapshots('Prepare', { snapshotter, key, parent, labels });
  }

  /** Snapshots.Stat through containerd: the snapshot's kind, or undefined when it does not exist. */
  async snapshotKind(snapshotter: string, key: string): Promise<string | undefined> {
    try {
      return (await this.snapshots<{ info: { kind: string } }>('Stat', { snapshotter, key })).info.kind;
    } catch (err) {
      if (err instanceof ImageError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** Snapshots.Remove through containerd. */
  async removeSnapshot(snapshotter: string, key: string): Promise<void> {
    await this.snapshots('Remove', { snapshotter, key });
  }

  /** Closes the channels. */
  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}
