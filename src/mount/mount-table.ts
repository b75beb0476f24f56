// Reads the kernel's mount table (/proc/self/mountinfo) to tell what is mounted where.
import { readFile } from 'node:fs/promises';

/** One mount: where, what, filesystem type. */
export interface MountEntry {
  mountPoint: string;
  source: string;
  fsType: string;
}

/** Decodes the octal escapes (\040 for space...) the kernel uses in mountinfo fields. */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Current mounts of this mount namespace (proc(5) mountinfo format). */
export async function readMountTable(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left?.split(' ') ?? [];
    const r = right?.split(' ') ?? [];
    if (f[4] === undefined || r[0] === undefined) continue;
    out.push({ mountPoint: unescapeField(f[4]), fsType: r[0], source: unescapeField(r[1] ?? '') });
  }
  return out;
}

/** True when something is mounted at `mountPoint` (an absolute, normalized path). */
export async function isMountPoint(mountPoint: string): Promise<boolean> {
  return (await readMountTable()).some((m) => m.mountPoint === mountPoint);
}
