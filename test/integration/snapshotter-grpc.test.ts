// The snapshot service over gRPC on a unix socket: the conformance suite through a grpc-js client, and the turbo-snapshotter daemon.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { startSnapshotService } from '../../src/snapshotter/service.js';
import { GrpcSnapshotsClient } from '../helpers/snapshots-grpc-client.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { snapshotterSuite } from '../suites/snapshotter.suite.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

snapshotterSuite('gRPC service on a unix socket', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'turbo-oci-snapgrpc-'));
  const domain = new OverlaySnapshotter(path.join(dir, 'root'));
  const service = await startSnapshotService(domain, path.join(dir, 'turbo.sock'));
  const client = new GrpcSnapshotsClient(service.socketPath);
  return {
    snapshotter: client,
    async dispose() {
      await client.close();
      await service.close();
      await domain.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('snapshot service socket', () => {
  it('listens with mode 0600, replaces a stale socket and removes it on close', async () => {
    const dir = makeTempDir();
    const sock = path.join(dir, 's.sock');
    // A stale socket file, as left by a killed daemon.
    const stale = net.createServer().listen(sock);
    await new Promise((r) => stale.once('listening', r));
    stale.close();
    const domain = new OverlaySnapshotter(path.join(dir, 'root'));
    const service = await startSnapshotService(domain, sock);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const client = new GrpcSnapshotsClient(sock);
    await client.prepare('k', '');
    expect((await client.walk()).map((i) => i.name)).toEqual(['k']);
    await client.close();
    await service.close();
    await domain.close();
    expect(existsSync(sock)).toBe(false);
  });

  it('turbo-snapshotter serves a --config root and exits 0 on SIGTERM; state survives the restart', async () => {
    const dir = makeTempDir();
    const sock = path.join(dir, 'turbo.sock');
    const configFile = path.join(dir, 'config.json');
    await import('node:fs').then((fs) => fs.writeFileSync(configFile, JSON.stringify({ root: path.join(dir, 'root'), shutdownGraceMs: 1000 })));
    const runDaemon = async (fn: (c: GrpcSnapshotsClient) => Promise<void>) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/snapshotter-main.ts'), '--config', configFile, '--address', sock], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      try {
        await new Promise<void>((resolve, reject) => {
          const onData = () => stderr.includes('serving') && resolve();
          child.stderr.on('data', onData);
          void exited.then(() => reject(new Error(`daemon exited early: ${stderr}`)));
        });
        const client = new GrpcSnapshotsClient(sock);
        await fn(client);
        await client.close();
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      expect(stderr).toContain('SIGTERM');
    };
    await runDaemon(async (c) => {
      await c.prepare('a', '', { x: 'y' });
      await c.commit('A', 'a');
    });
    expect(existsSync(sock)).toBe(false);
    await runDaemon(async (c) => {
      expect(await c.stat('A')).toMatchObject({ name: 'A', kind: 'COMMITTED' });
      await expect(c.stat('a')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
});
