// Disk usage of a directory tree as containerd's fs.DiskUsage (v1.6 fs/du_unix.go): allocated 512-byte blocks and distinct inodes.
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { SnapshotUsage } from './snapshot-types.js';

/** Sums st_blocks*512 and counts each (dev, inode) once over `root` and everything below it (symlinks not followed). */
export function diskUsage(root: string): SnapshotUsage {
  const seen = new Set<string>();
  let size = 0;
  const visit = (p: string): void => {
    const st = lstatSync(p, { bigint: true });
    const id = `${st.dev}:${st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      size += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(path.join(p, name));
  };
  visit(root);
  return { size, inodes: seen.size };
}
