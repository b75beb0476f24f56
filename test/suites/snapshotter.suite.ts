// Conformance suite for Snapshotter implementations, after the behaviours of containerd v1.6 snapshots/testsuite.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshotter } from '../../src/snapshotter/snapshot-types.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { seededBytes } from '../helpers/images.js';
import { withMounts } from '../helpers/snapshot-mounts.js';

/** A fresh, empty snapshotter and how to dispose of it. */
export interface SnapshotterUnderTest {
  snapshotter: Snapshotter;
  dispose(): Promise<void>;
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code ?? String(e));

/** Registers the conformance tests for the snapshotters `make` creates (one per test). */
export function snapshotterSuite(name: string, make: () => Promise<SnapshotterUnderTest>): void {
  describe(`snapshotter conformance: ${name}`, () => {
    let under: SnapshotterUnderTest;
    let sn: Snapshotter;
    beforeEach(async () => {
      under = await make();
      sn = under.snapshotter;
    });
    afterEach(async () => {
      await under.dispose();
    });

    /** Prepares `key` on `parent`, lets `write` change its tree (mounted), and commits it as `name`. */
    async function layer(name: string, parent: string, write: (dir: string) => void): Promise<void> {
      const key = `${name}-active`;
      const mounts = await sn.prepare(key, parent);
      await withMounts(mounts, (dir) => write(dir));
      await sn.commit(name, key);
    }

    it('prepare, stat, commit: an active snapshot becomes committed under its new name', async () => {
      const mounts = await sn.prepare('default/1/a', '', { 'x.io/l': 'v1' });
      expect(mounts).toHaveLength(1);
      expect(mounts[0]!.type).toBe('bind');
      expect(mounts[0]!.options).toContain('rw');
      const active = await sn.stat('default/1/a');
      expect(active).toMatchObject({ name: 'default/1/a', parent: '', kind: 'ACTIVE', labels: { 'x.io/l': 'v1' } });
      await sn.commit('layer-a', 'default/1/a', { 'x.io/c': 'yes' });
      const committed = await sn.stat('layer-a');
      expect(committed).toMatchObject({ name: 'layer-a', parent: '', kind: 'COMMITTED', labels: { 'x.io/c': 'yes' } });
      expect(await codeOf(sn.stat('default/1/a'))).toBe('NOT_FOUND');
      expect(committed.createdAt.getTime()).toBe(active.createdAt.getTime());
    });

    it('error codes: missing keys, duplicates, bad parents, commit of a view, mounts of committed', async () => {
      expect(await codeOf(sn.stat('nope'))).toBe('NOT_FOUND');
      expect(await codeOf(sn.remove('nope'))).toBe('NOT_FOUND');
      expect(await codeOf(sn.mounts('nope'))).toBe('NOT_FOUND');
      expect(await codeOf(sn.usage('nope'))).toBe('NOT_FOUND');
      expect(await codeOf(sn.commit('x', 'nope'))).toBe('NOT_FOUND');
      expect(await codeOf(sn.prepare('k', 'no-parent'))).toBe('NOT_FOUND');
      expect(await codeOf(sn.prepare('', ''))).toBe('INVALID_ARGUMENT');
      await sn.prepare('k', '');
      expect(await codeOf(sn.prepare('k', ''))).toBe('ALREADY_EXISTS');
      expect(await codeOf(sn.view('k', ''))).toBe('ALREADY_EXISTS');
      expect(await codeOf(sn.prepare('child', 'k'))).toBe('INVALID_ARGUMENT'); // parent is active, not committed
      await sn.commit('base', 'k');
      expect(await codeOf(sn.mounts('base'))).toBe('FAILED_PRECONDITION');
      await sn.prepare('k2', 'base');
      expect(await codeOf(sn.commit('base', 'k2'))).toBe('ALREADY_EXISTS');
      expect(await codeOf(sn.prepare('base', ''))).toBe('ALREADY_EXISTS');
      await sn.view('v', 'base');
      expect(await codeOf(sn.commit('from-view', 'v'))).toBe('FAILED_PRECONDITION');
      expect((await sn.stat('v')).kind).toBe('VIEW');
      expect(await codeOf(sn.stat('from-view'))).toBe('NOT_FOUND');
    });

    it('remove refuses a snapshot with children and succeeds leaf first', async () => {
      await sn.prepare('a', '');
      await sn.commit('A', 'a');
      await sn.prepare('b', 'A');
      await sn.commit('B', 'b');
      await sn.view('v', 'B');
      expect(await codeOf(sn.remove('A'))).toBe('FAILED_PRECONDITION');
      expect(await codeOf(sn.remove('B'))).toBe('FAILED_PRECONDITION');
      await sn.remove('v');
      await sn.remove('B');
      await sn.remove('A');
      expect(await sn.walk()).toEqual([]);
    });

    it('update changes labels only: whole set, single keys, immutable fields refused', async () => {
      await sn.prepare('k', '', { a: '1', b: '2' });
      const before = await sn.stat('k');
      let info = await sn.update({ name: 'k', labels: { c: '3' } }, ['labels.c']);
      expect(info.labels).toEqual({ a: '1', b: '2', c: '3' });
      info = await sn.update({ name: 'k', labels: {} }, ['labels.a']);
      expect(info.labels).toEqual({ b: '2', c: '3' });
      info = await sn.update({ name: 'k', labels: { z: '26' } }, ['labels']);
      expect(info.labels).toEqual({ z: '26' });
      info = await sn.update({ name: 'k', labels: { y: '25' } }, []);
      expect(info.labels).toEqual({ y: '25' });
      expect(info.kind).toBe('ACTIVE');
      expect(info.createdAt.getTime()).toBe(before.createdAt.getTime());
      expect(info.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
      for (const field of ['name', 'kind', 'parent', 'created_at']) {
        expect(await codeOf(sn.update({ name: 'k', labels: {} }, [field]))).toBe('INVALID_ARGUMENT');
      }
      expect((await sn.stat('k')).labels).toEqual({ y: '25' });
      expect(await codeOf(sn.update({ name: 'missing', labels: {} }, ['labels']))).toBe('NOT_FOUND');
    });

    it('walk lists every snapshot and applies containerd filters (comma ANDs, list ORs)', async () => {
      await sn.prepare('a', '', { 'containerd.io/gc.root': 'x', team: 'red' });
      await sn.commit('A', 'a', { team: 'red', tier: 'base' });
      await sn.prepare('b', 'A', { team: 'blue' });
      await sn.view('v', 'A', { team: 'red' });
      const names = async (filters: string[]) => (await sn.walk(filters)).map((i) => i.name).sort();
      expect(await names([])).toEqual(['A', 'b', 'v']);
      expect(await names(['name==A'])).toEqual(['A']);
      expect(await names(['parent==A'])).toEqual(['b', 'v']);
      expect(await names(['kind==committed'])).toEqual(['A']);
      expect(await names(['kind==Active'])).toEqual(['b']);
      expect(await names(['labels.team==red'])).toEqual(['A', 'v']);
      expect(await names(['labels."team"==red,kind==view'])).toEqual(['v']);
      expect(await names(['labels.tier'])).toEqual(['A']);
      expect(await names(['labels.team==blue', 'name==v'])).toEqual(['b', 'v']);
      expect(await names(['labels.team!=red'])).toEqual(['b']);
      expect(await names(['name~=^[ab]$'])).toEqual(['b']);
      expect(await codeOf(sn.walk(['labels.team=='])) ).toBe('INVALID_ARGUMENT');
      const a = (await sn.walk(['name==A']))[0]!;
      expect(a).toMatchObject({ kind: 'COMMITTED', parent: '', labels: { team: 'red', tier: 'base' } });
    });

    describe.skipIf(missingNeeds({ root: true }))('mounted contents (root)', () => {
      it('layers stack: overrides, deletions and a view see the right tree; lowerdir is nearest first', async () => {
        await layer('L1', '', (d) => {
          mkdirSync(path.join(d, 'etc'));
          writeFileSync(path.join(d, 'etc/os-release'), 'v1\n');
          writeFileSync(path.join(d, 'gone.txt'), 'bye');
          writeFileSync(path.join(d, 'keep.txt'), 'keep');
        });
        await layer('L2', 'L1', (d) => {
          expect(readFileSync(path.join(d, 'etc/os-release'), 'utf8')).toBe('v1\n');
          writeFileSync(path.join(d, 'etc/os-release'), 'v2\n');
          rmSync(path.join(d, 'gone.txt'));
        });
        await layer('L3', 'L2', (d) => writeFileSync(path.join(d, 'new.txt'), 'new'));
        const rw = await sn.prepare('rw', 'L3');
        expect(rw).toHaveLength(1);
        expect(rw[0]!.type).toBe('overlay');
        const lower = rw[0]!.options.find((o) => o.startsWith('lowerdir='))!.slice('lowerdir='.length).split(':');
        expect(lower).toHaveLength(3);
        await withMounts(rw, (d) => {
          expect(readFileSync(path.join(d, 'etc/os-release'), 'utf8')).toBe('v2\n');
          expect(existsSync(path.join(d, 'gone.txt'))).toBe(false);
          expect(readFileSync(path.join(d, 'keep.txt'), 'utf8')).toBe('keep');
          expect(readFileSync(path.join(d, 'new.txt'), 'utf8')).toBe('new');
          writeFileSync(path.join(d, 'scratch.txt'), 'scratch');
        });
        // The same active snapshot mounted again still holds its own write, and Mounts() answers the same mounts.
        expect(await sn.mounts('rw')).toEqual(rw);
        await withMounts(await sn.mounts('rw'), (d) => expect(readFileSync(path.join(d, 'scratch.txt'), 'utf8')).toBe('scratch'));
        const view = await sn.view('view', 'L3');
        expect(view[0]!.type).toBe('overlay');
        expect(view[0]!.options.some((o) => o.startsWith('upperdir='))).toBe(false);
        await withMounts(view, (d) => {
          expect(readFileSync(path.join(d, 'etc/os-release'), 'utf8')).toBe('v2\n');
          expect(existsSync(path.join(d, 'scratch.txt'))).toBe(false);
          expect(() => writeFileSync(path.join(d, 'x'), 'x')).toThrow(/EROFS|read-only/);
        });
      });

      it('a view of a single layer is a read-only bind mount of that layer', async () => {
        await layer('only', '', (d) => writeFileSync(path.join(d, 'f'), 'f'));
        const view = await sn.view('v1', 'only');
        expect(view).toEqual([expect.objectContaining({ type: 'bind', options: expect.arrayContaining(['ro']) })]);
        await withMounts(view, (d) => {
          expect(readFileSync(path.join(d, 'f'), 'utf8')).toBe('f');
          expect(() => writeFileSync(path.join(d, 'g'), 'g')).toThrow(/EROFS|read-only/);
        });
      });

      it('usage counts the bytes and inodes of a snapshot\'s own changes', async () => {
        const data = seededBytes('usage', 1 << 20);
        await sn.prepare('u', '');
        await withMounts(await sn.mounts('u'), (d) => {
          writeFileSync(path.join(d, 'big.bin'), data);
          writeFileSync(path.join(d, 'small.txt'), 'x');
        });
        const active = await sn.usage('u');
        expect(active.size).toBeGreaterThanOrEqual(data.length);
        expect(active.inodes).toBe(3); // the root directory and two files
        await sn.commit('U', 'u');
        expect(await sn.usage('U')).toEqual(active);
        await layer('U2', 'U', (d) => writeFileSync(path.join(d, 'tiny'), 'y'));
        const child = await sn.usage('U2');
        expect(child.size).toBeLessThan(data.length);
      });
    });
  });
}
