// Applies snapshot mounts (containerd types.Mount) to a temporary directory with mount(8), and always unmounts afterwards.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SnapshotMount } from '../../src/snapshotter/snapshot-types.js';

function mountOne(m: SnapshotMount, target: string): void {
  if (m.type === 'bind') {
    // util-linux applies "ro" to a bind mount with an implicit remount.
    execFileSync('mount', ['-o', m.options.join(','), m.source, target], { stdio: 'pipe' });
  } else {
    execFileSync('mount', ['-t', m.type, '-o', m.options.join(','), m.source, target], { stdio: 'pipe' });
  }
}

/** Mounts `mounts` on a fresh directory (needs root), runs `fn` with it, then unmounts (recursively) and removes it. */
export async function withMounts<T>(mounts: SnapshotMount[], fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'turbo-oci-snapmnt-'));
  let mounted = 0;
  try {
    for (const m of mounts) {
      mountOne(m, path.join(dir, m.target ?? ''));
      mounted++;
    }
    return await fn(dir);
  } finally {
    if (mounted > 0) execFileSync('umount', ['-R', dir], { stdio: 'pipe' });
    rmdirSync(dir);
  }
}
