// mountsUsing (root): binds of a filesystem and overlays with a layer inside it are found in the real mount table; nothing once they are gone.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMountPoint, mountsUsing } from '../../../src/mount/mount-table.js';
import { missingNeeds } from '../../helpers/capabilities.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

describe.skipIf(missingNeeds({ root: true }))('mount table', () => {
  it('finds the binds and overlays that use a mount, with odd characters in paths', async () => {
    const dir = makeTempDir('turbo-oci-mounttab-');
    const fsDir = path.join(dir, 'fs with space');
    const mounted: string[] = [];
    const mount = (args: string[], target: string): void => {
      mkdirSync(target, { recursive: true });
      execFileSync('mount', [...args, target]);
      mounted.unshift(target);
    };
    const umount = (target: string): void => {
      execFileSync('umount', [target]);
      mounted.splice(mounted.indexOf(target), 1);
    };
    try {
      mount(['-t', 'tmpfs', 'tmpfs'], fsDir);
      mkdirSync(path.join(fsDir, 'lower'));
      mkdirSync(path.join(fsDir, 'sub'));
      expect(await mountsUsing(fsDir)).toEqual([]);
      mount(['--bind', path.join(fsDir, 'sub')], path.join(dir, 'bind'));
      for (const d of ['other', 'upper', 'work']) mkdirSync(path.join(dir, d));
      const lowers = `lowerdir=${path.join(dir, 'other')}:${path.join(fsDir, 'lower')}`;
      mount(['-t', 'overlay', 'overlay', '-o', `${lowers},upperdir=${path.join(dir, 'upper')},workdir=${path.join(dir, 'work')}`], path.join(dir, 'ovl'));
      expect((await mountsUsing(fsDir)).map((m) => m.mountPoint).sort()).toEqual([path.join(dir, 'bind'), path.join(dir, 'ovl')]);
      expect(await mountsUsing(path.join(dir, 'not-mounted'))).toEqual([]);
      umount(path.join(dir, 'ovl'));
      umount(path.join(dir, 'bind'));
      expect(await mountsUsing(fsDir)).toEqual([]);
      expect(await isMountPoint(fsDir)).toBe(true);
    } finally {
      for (const m of [...mounted]) umount(m);
    }
  });
});
