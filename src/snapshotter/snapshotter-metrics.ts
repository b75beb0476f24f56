// The snapshotter's Prometheus metrics: gRPC calls by method and status with a latency histogram, plus gauges read from the store at scrape time.
import { status } from '@grpc/grpc-js';
import { lazyLayerOf } from './lazy-layer.js';
import type { LazyCatalog } from './lazy-catalog.js';
import type { Snapshotter } from './snapshot-types.js';

/** Upper bounds of the call latency histogram, in seconds: Prepare of a lazy layer is milliseconds, a Mounts that attaches a chain takes seconds. */
export const CALL_LATENCY_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30];

const PREFIX = 'turbo_oci_snapshotter_';

/** gRPC status code number -> name as in the gRPC spec (OK, NOT_FOUND…). */
const STATUS_NAMES = new Map(Object.entries(status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

interface CallStats {
  buckets: number[];
  count: number;
  sumS: number;
  byStatus: Map<string, number>;
}

/** Counters of one snapshotter daemon; gauges come from `snapshotter` (and its lazy catalog) when scraped. */
export class SnapshotterMetrics {
  private readonly calls = new Map<string, CallStats>();
  /** Prepare calls answered ALREADY_EXISTS because the target layer is served lazily. */
  lazyPrepares = 0;

  constructor(
    private readonly snapshotter: Snapshotter,
    private readonly catalog?: LazyCatalog,
  ) {}

  /** Records one finished gRPC call: `method` (Prepare, List…), its status code and duration. */
  observeCall(method: string, code: status, seconds: number): void {
    let c = this.calls.get(method);
    if (!c) this.calls.set(method, (c = { buckets: CALL_LATENCY_BUCKETS_S.map(() => 0), count: 0, sumS: 0, byStatus: new Map() }));
    c.count++;
    c.sumS += seconds;
    for (let i = 0; i < CALL_LATENCY_BUCKETS_S.length; i++) if (seconds <= CALL_LATENCY_BUCKETS_S[i]!) c.buckets[i]!++;
    const name = STATUS_NAMES.get(code) ?? String(code);
    c.byStatus.set(name, (c.byStatus.get(name) ?? 0) + 1);
  }

  /** The exposition text (format 0.0.4). */
  async prometheusText(): Promise<string> {
    const lines: string[] = [];
    const head = (name: string, type: string, help: string): void => void lines.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} ${type}`);
    const methods = [...this.calls.keys()].sort();
    head('grpc_calls_total', 'counter', 'Snapshots API calls served, by method and gRPC status.');
    for (const m of methods) for (const [code, n] of [...this.calls.get(m)!.byStatus].sort()) lines.push(`${PREFIX}grpc_calls_total{method="${m}",code="${code}"} ${n}`);
    head('grpc_call_duration_seconds', 'histogram', 'Time to answer a Snapshots API call.');
    for (const m of methods) {
      const c = this.calls.get(m)!;
      CALL_LATENCY_BUCKETS_S.forEach((le, i) => lines.push(`${PREFIX}grpc_call_duration_seconds_bucket{method="${m}",le="${le}"} ${c.buckets[i]}`));
      lines.push(`${PREFIX}grpc_call_duration_seconds_bucket{method="${m}",le="+Inf"} ${c.count}`);
      lines.push(`${PREFIX}grpc_call_duration_seconds_sum{method="${m}"} ${c.sumS}`, `${PREFIX}grpc_call_duration_seconds_count{method="${m}"} ${c.count}`);
    }
    head('lazy_prepares_total', 'counter', 'Prepare calls answered ALREADY_EXISTS because the layer is served lazily from its index.');
    lines.push(`${PREFIX}lazy_prepares_total ${this.lazyPrepares}`);
    const infos = await this.snapshotter.walk();
    const kinds = { ACTIVE: 0, VIEW: 0, COMMITTED: 0 };
    let lazy = 0;
    for (const i of infos) {
      kinds[i.kind]++;
      if (i.kind === 'COMMITTED' && lazyLayerOf(i.labels)) lazy++;
    }
    head('snapshots', 'gauge', 'Snapshots in the store, by kind.');
    for (const [k, n] of Object.entries(kinds)) lines.push(`${PREFIX}snapshots{kind="${k.toLowerCase()}"} ${n}`);
    head('lazy_snapshots', 'gauge', 'Committed snapshots served lazily (not unpacked).');
    lines.push(`${PREFIX}lazy_snapshots ${lazy}`);
    if (this.catalog) {
      head('chain_mounts', 'gauge', 'Shared read-only ext4 mounts of indexed chains (one serve-nbd daemon each).');
      lines.push(`${PREFIX}chain_mounts ${this.catalog.allMounts().length}`);
      head('chain_mount_users', 'gauge', 'Active snapshots and views using a chain mount.');
      lines.push(`${PREFIX}chain_mount_users ${this.catalog.userIds().length}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
