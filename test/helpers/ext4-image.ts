// ext4 test helpers: materialize deltas into a raw image, run e2fsck, loop-mount read-only (always undone).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { DeviceBlockMap } from '../../src/ext4/block-map.js';
import type { Ext4Delta } from '../../src/format/ext4/delta-types.js';
import { writeRawImage } from '../../indexer/ext4/raw-image.js';

const exec = promisify(execFile);

/** Stacks `deltas` and writes the raw image to `imagePath`; `openTar(i)` streams layer i's tar. */
export async function materialize(deltas: Ext4Delta[], openTar: (layer: number) => Readable, imagePath: string): Promise<DeviceBlockMap> {
  const map = new DeviceBlockMap(deltas[0]!.deviceBytes);
  for (const d of deltas) map.apply(d);
  await writeRawImage(map, openTar, imagePath);
  return map;
}

/** Runs `e2fsck -fn` and returns its exit status and output (0 = clean). */
export async function fsck(imagePath: string): Promise<{ status: number; output: string }> {
  try {
    const r = await exec('e2fsck', ['-fn', imagePath], { maxBuffer: 64 << 20 });
    return { status: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Runs a debugfs request against the image (read-only) and returns stdout. */
export async function debugfs(imagePath: string, request: string): Promise<string> {
  const r = await exec('debugfs', ['-R', request, imagePath], { maxBuffer: 256 << 20 });
  return r.stdout;
}

/** Loop-mounts the image read-only, runs `fn` on the mount point, then unmounts and removes the mount point. */
export async function withMount<T>(imagePath: string, fn: (mountPoint: string) => Promise<T>): Promise<T> {
  const mnt = mkdtempSync(path.join(tmpdir(), 'turbo-ext4-mnt-'));
  await exec('mount', ['-t', 'ext4', '-o', 'ro,loop,noload', imagePath, mnt]);
  try {
    return await fn(mnt);
  } finally {
    await exec('umount', ['-d', mnt]).catch(async () => {
      await new Promise((r) => setTimeout(r, 500));
      await exec('umount', ['-d', '-l', mnt]);
    });
    rmSync(mnt, { recursive: true, force: true });
  }
}
