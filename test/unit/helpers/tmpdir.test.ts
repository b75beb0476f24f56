// The temp-dir helper never deletes through a mount point (root: a tmpfs mounted inside a temp dir), and removes the dir once nothing is mounted below it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingNeeds } from '../../helpers/capabilities.js';
import { mountsUnder } from '../../helpers/mount-points.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmpdir.js';

const skip = missingNeeds({ root: true, commands: ['mount', 'umount'] });

describe('makeTempDir / removeTempDir', () => {
  it('removes a directory tree with nothing mounted below it', () => {
    const dir = makeTempDir('turbo-oci-tmpdir-');
    mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(path.join(dir, 'a', 'b', 'f'), 'x');
    expect(removeTempDir(dir)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    // Removing again is a no-op.
    expect(removeTempDir(dir)).toBe(true);
  });

  it.skipIf(skip)('leaves a directory with a live mount below it (and the mounted files) in place; removes it once unmounted', () => {
    const dir = makeTempDir('turbo-oci-tmpdir-mnt-');
    const mnt = path.join(dir, 'sub', 'mnt');
    mkdirSync(mnt, { recursive: true });
    writeFileSync(path.join(dir, 'outside'), 'outside the mount');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'turbo-oci-test', mnt]);
    try {
      writeFileSync(path.join(mnt, 'inside'), 'on the tmpfs');
      expect(mountsUnder(dir)).toEqual([mnt]);
      expect(removeTempDir(dir)).toBe(false);
      expect(readFileSync(path.join(mnt, 'inside'), 'utf8')).toBe('on the tmpfs');
      expect(readFileSync(path.join(dir, 'outside'), 'utf8')).toBe('outside the mount');
    } finally {
      execFileSync('umount', [mnt]);
    }
    expect(mountsUnder(dir)).toEqual([]);
    expect(removeTempDir(dir)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });
});
