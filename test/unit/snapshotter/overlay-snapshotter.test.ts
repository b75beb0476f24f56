// The overlayfs snapshotter as a domain object: the conformance suite, plus restart, crash leftovers and Cleanup.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { OverlaySnapshotter } from '../../../src/snapshotter/overlay-snapshotter.js';
import { makeTempDir } from '../../helpers/tmpdir.js';
import { snapshotterSuite } from '../../suites/snapshotter.suite.js';

snapshotterSuite('OverlaySnapshotter (in process)', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'turbo-oci-snap-'));
  const snapshotter = new OverlaySnapshotter(root);
  return {
    snapshotter,
    async dispose() {
      await snapshotter.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
});

describe('OverlaySnapshotter state', () => {
  it('reloads every snapshot after a restart; ids keep growing after removals', async () => {
    const root = path.join(makeTempDir(), 'root');
    let sn = new OverlaySnapshotter(root);
    await sn.prepare('a', '', { l: '1' });
    await sn.commit('A', 'a');
    await sn.prepare('b', 'A');
    await sn.view('gone', 'A');
    await sn.remove('gone');
    const before = await sn.walk();
    await sn.close();
    sn = new OverlaySnapshotter(root);
    expect(await sn.walk()).toEqual(before);
    await sn.prepare('c', '');
    // ids 1 (A), 2 (b), 3 (removed view) were issued: c gets 4, never the removed 3.
    expect(readdirSync(path.join(root, 'snapshots')).sort()).toEqual(['1', '2', '4']);
    await sn.close();
  });

  it('a crash leftover is handled: a stale directory of an unissued id is replaced, orphans go on Cleanup', async () => {
    const root = path.join(makeTempDir(), 'root');
    let sn = new OverlaySnapshotter(root);
    await sn.prepare('a', '');
    await sn.close();
    // Simulated crashes: Prepare died after mkdir but before COMMIT (id 2), Remove died after COMMIT before rm (id 77).
    mkdirSync(path.join(root, 'snapshots', '2', 'fs'), { recursive: true });
    writeFileSync(path.join(root, 'snapshots', '2', 'fs', 'stale'), 'x');
    mkdirSync(path.join(root, 'snapshots', '77', 'fs'), { recursive: true });
    sn = new OverlaySnapshotter(root);
    await sn.prepare('b', '');
    expect(existsSync(path.join(root, 'snapshots', '2', 'fs', 'stale'))).toBe(false);
    expect(existsSync(path.join(root, 'snapshots', '2', 'work'))).toBe(true);
    await sn.cleanup();
    expect(readdirSync(path.join(root, 'snapshots')).sort()).toEqual(['1', '2']);
    expect((await sn.walk()).map((i) => i.name).sort()).toEqual(['a', 'b']);
    await sn.close();
  });

  it('a failed operation changes nothing: the metadata and the directories stay as they were', async () => {
    const root = path.join(makeTempDir(), 'root');
    const sn = new OverlaySnapshotter(root);
    await sn.prepare('a', '');
    await sn.commit('A', 'a');
    await sn.prepare('b', 'A');
    const before = await sn.walk();
    await expect(sn.prepare('b', 'A')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(sn.commit('A', 'b')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(sn.remove('A')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(await sn.walk()).toEqual(before);
    expect(readdirSync(path.join(root, 'snapshots')).sort()).toEqual(['1', '2']);
    await sn.close();
  });

  it('keeps its metadata in a WAL-mode SQLite database', async () => {
    const root = path.join(makeTempDir(), 'root');
    const sn = new OverlaySnapshotter(root);
    await sn.prepare('a', '');
    const db = new Database(path.join(root, 'metadata.db'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT name, kind FROM snapshots').all()).toEqual([{ name: 'a', kind: 'ACTIVE' }]);
    db.close();
    await sn.close();
  });
});
