// The backstore over NBD: nbdcopy of `turbo-index serve-nbd` equals the materialized image byte for byte; metrics endpoint; clean SIGTERM; as root, `turbo-index mount` equals umoci unpack and `umount` leaves nothing behind.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readMountTable } from '../../src/mount/mount-table.js';
import { listMountStates } from '../../src/mount/mount-state.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { compareTrees, expectedTree } from '../helpers/images.js';
import { indexedDebian, type IndexedDebian } from '../helpers/indexed-debian.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { spawnTurboIndex, turboIndex } from '../helpers/turbo-index-cli.js';

const exec = promisify(execFile);
const skipNbd = missingNeeds({ commands: ['nbdcopy', 'cmp'] });
const skipMount = missingNeeds({ root: true, commands: ['nbdfuse', 'losetup', 'fusermount3', 'mount'], paths: ['/dev/fuse', '/dev/loop-control'] });

let fx: IndexedDebian;
let work: string;
const children: ReturnType<typeof spawnTurboIndex>[] = [];

beforeAll(async () => {
  fx = await indexedDebian();
  work = makeTempDir('turbo-backstore-nbd-');
}, 600_000);

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
});

/** Waits until the server printed its URI (first stdout line); rejects if it exits first. */
async function started(run: ReturnType<typeof spawnTurboIndex>): Promise<string> {
  let out = '';
  return new Promise<string>((resolve, reject) => {
    run.child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    void run.done.then((r) => reject(new Error(`serve-nbd exited ${r.status}: ${r.stderr}`)));
  });
}

describe.skipIf(skipNbd)('turbo-index serve-nbd', () => {
  it('nbdcopy of the export equals the materialized image byte for byte; metrics are served; SIGTERM stops it cleanly', async () => {
    const socket = path.join(work, 'nbd.sock');
    const run = spawnTurboIndex(['serve-nbd', fx.ref, '--socket', socket, '--no-disk-cache', '--metrics-address', '127.0.0.1:0']);
    children.push(run);
    let stderr = '';
    run.child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const uri = await started(run);
    expect(uri).toContain('nbd+unix');
    const copy = path.join(work, 'copy.img');
    await exec('nbdcopy', [uri, copy]);
    const cmp = await exec('cmp', [copy, fx.rawImage]).then(
      () => 0,
      (e: { code?: number; stdout?: string }) => {
        throw new Error(`nbdcopy output differs from the materialized image: ${e.stdout ?? ''}`);
      },
    );
    expect(cmp).toBe(0);
    for (let i = 0; i < 100 && !stderr.includes('metrics at'); i++) await new Promise((r) => setTimeout(r, 50)); // printed before the URI line
    const url = /metrics at (\S+)/.exec(stderr)?.[1];
    expect(url).toBeDefined();
    const text = await (await fetch(url!)).text();
    const readBytes = Number(/^turbo_oci_backstore_read_bytes_total (\d+)$/m.exec(text)?.[1]);
    expect(readBytes).toBeGreaterThanOrEqual(1024 * 1024 * 1024);
    expect(text).toMatch(/turbo_oci_backstore_read_latency_seconds_count \d+/);
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(socket)).toBe(false);
  }, 300_000);
});

describe.skipIf(skipMount)('turbo-index mount / umount (root)', () => {
  it('the mounted image equals umoci unpack; umount leaves no mount, loop device or process', async () => {
    const dir = path.join(work, 'mnt');
    const stateDir = path.join(work, 'state');
    const env = { TURBO_OCI_SPAN_CACHE_DIR: path.join(work, 'spans') };
    const m = await turboIndex(['mount', fx.ref, dir, '--state-dir', stateDir], env);
    expect(m.status, m.stderr).toBe(0);
    const [state] = await listMountStates(stateDir);
    expect(state?.mounted).toBe(true);
    let diffs: string[];
    try {
      diffs = compareTrees(await expectedTree(await fx.debian.unpackedRoot()), await expectedTree(dir));
    } finally {
      const u = await turboIndex(['umount', dir, '--state-dir', stateDir], env);
      expect(u.status, u.stderr).toBe(0);
    }
    expect(diffs).toEqual([]);
    const mounts = await readMountTable();
    expect(mounts.filter((x) => x.mountPoint === dir || x.mountPoint === state!.attach.fuseDir)).toEqual([]);
    const { stdout } = await exec('losetup', ['-a']);
    expect(stdout).not.toContain(state!.attach.fuseFile!);
    for (const pid of [state!.serverPid, state!.attach.nbdfusePid]) {
      if (pid === undefined) continue;
      const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
      expect(cmdline).not.toMatch(/serve-nbd|nbdfuse/);
    }
    expect(await listMountStates(stateDir)).toEqual([]);
  }, 300_000);
});
