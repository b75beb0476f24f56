// The snapshotter's Prometheus endpoint: call counts by method and status, lazy prepares and store gauges, in-process and from the turbo-snapshotter binary.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startMetricsServer } from '../../src/backstore/metrics-server.js';
import { lazyLabels, TARGET_SNAPSHOT_LABEL } from '../../src/snapshotter/lazy-layer.js';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { startSnapshotService } from '../../src/snapshotter/service.js';
import { SnapshotterMetrics } from '../../src/snapshotter/snapshotter-metrics.js';
import { GrpcSnapshotsClient } from '../helpers/snapshots-grpc-client.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Sample lines of an exposition text as name{labels} -> value (HELP/TYPE lines dropped). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('snapshotter metrics', () => {
  it('count calls by method and gRPC status, lazy prepares, and report snapshots by kind', async () => {
    const dir = makeTempDir('turbo-oci-snapmetrics-');
    const sn = new OverlaySnapshotter(path.join(dir, 'root'));
    const metrics = new SnapshotterMetrics(sn, sn.catalog);
    const service = await startSnapshotService(sn, path.join(dir, 'turbo.sock'), { metrics });
    const server = await startMetricsServer(metrics, '127.0.0.1:0');
    const client = new GrpcSnapshotsClient(service.socketPath);
    try {
      await client.prepare('a', '');
      await client.commit('A', 'a');
      await client.prepare('b', 'A');
      await expect(client.stat('missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(client.prepare('b', 'A')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      // A pinned lazy layer: the remote-snapshotter answer ALREADY_EXISTS, counted as a lazy prepare (nothing is mounted).
      const chain = `sha256:${'ab'.repeat(32)}`;
      const layer = { imageRef: `127.0.0.1:1/x@sha256:${'cd'.repeat(32)}`, indexDigest: `sha256:${'ef'.repeat(32)}`, layerIndex: 0, layerCount: 1 };
      await expect(client.prepare(`extract-1 ${chain}`, '', { [TARGET_SNAPSHOT_LABEL]: chain, ...lazyLabels(layer) })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect((await client.walk()).length).toBe(3);

      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('version=0.0.4');
      const s = samples(await res.text());
      const p = 'turbo_oci_snapshotter_';
      expect(s.get(`${p}grpc_calls_total{method="Prepare",code="OK"}`)).toBe(2);
      expect(s.get(`${p}grpc_calls_total{method="Prepare",code="ALREADY_EXISTS"}`)).toBe(2);
      expect(s.get(`${p}grpc_calls_total{method="Commit",code="OK"}`)).toBe(1);
      expect(s.get(`${p}grpc_calls_total{method="Stat",code="NOT_FOUND"}`)).toBe(1);
      expect(s.get(`${p}grpc_calls_total{method="List",code="OK"}`)).toBe(1);
      expect(s.get(`${p}grpc_call_duration_seconds_count{method="Prepare"}`)).toBe(4);
      expect(s.get(`${p}grpc_call_duration_seconds_bucket{method="Prepare",le="+Inf"}`)).toBe(4);
      expect(s.get(`${p}lazy_prepares_total`)).toBe(1);
      expect(s.get(`${p}snapshots{kind="active"}`)).toBe(1);
      expect(s.get(`${p}snapshots{kind="committed"}`)).toBe(2);
      expect(s.get(`${p}snapshots{kind="view"}`)).toBe(0);
      expect(s.get(`${p}lazy_snapshots`)).toBe(1);
      expect(s.get(`${p}chain_mounts`)).toBe(0);
      // Histogram buckets are cumulative.
      const buckets = [...s].filter(([k]) => k.startsWith(`${p}grpc_call_duration_seconds_bucket{method="Prepare"`)).map(([, v]) => v);
      expect(buckets).toEqual([...buckets].sort((x, y) => x - y));
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await client.close();
      await server.close();
      await service.close();
      await sn.close();
    }
  });

  it('turbo-snapshotter --metrics-address serves the endpoint and closes it on SIGTERM', async () => {
    const dir = makeTempDir('turbo-oci-snapmetrics-');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/snapshotter-main.ts'), '--root', path.join(dir, 'root'), '--address', path.join(dir, 'turbo.sock'), '--metrics-address', '127.0.0.1:0'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
          const m = /metrics at (http:\S+)/.exec(stderr);
          if (m && stderr.includes('serving')) resolve(m[1]!);
        });
        void exited.then(() => reject(new Error(`daemon exited early: ${stderr}`)));
      });
      const s = samples(await (await fetch(url)).text());
      expect(s.get('turbo_oci_snapshotter_snapshots{kind="committed"}')).toBe(0);
      expect(s.get('turbo_oci_snapshotter_lazy_prepares_total')).toBe(0);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  });
});
