// Reads the kernel's mount table (/proc/self/mountinfo) to tell what is mounted where.
import { readFile } from 'node:fs/promises';

/** One mount: where, what, filesystem type, device and filesystem options. */
export interface MountEntry {
  mountPoint: string;
  source: string;
  fsType: string;
  /** `major:minor` of the filesystem (the same for every bind of it). */
  device: string;
  /** Per-superblock options (for overlay: lowerdir=…,upperdir=…,workdir=…). */
  superOptions: string;
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
    out.push({ mountPoint: unescapeField(f[4]), fsType: r[0], source: unescapeField(r[1] ?? ''), device: f[2] ?? '', superOptions: unescapeField(r[2] ?? '') });
  }
  return out;
}

/** True when something is mounted at `mountPoint` (an absolute, normalized path). */
export async function isMountPoint(mountPoint: string): Promise<boolean> {
  return (await readMountTable()).some((m) => m.mountPoint === mountPoint);
}

/** The overlay layer directories named in `superOptions` (lowerdir, upperdir, workdir; `\:` and `\,` escapes honoured). */
function overlayDirs(superOptions: string): string[] {
  const out: string[] = [];
  for (const opt of superOptions.split(/(?<!\\),/)) {
    const m = /^(lowerdir\+?|upperdir|workdir|datadir\+)=(.*)$/.exec(opt);
    if (m) out.push(...m[2]!.split(/(?<!\\):/).map((d) => d.replace(/\\([:,])/g, '$1')));
  }
  return out;
}

/** Other mounts that depend on the filesystem mounted at `mountPoint`: binds of it and overlays with a layer inside it. */
export async function mountsUsing(mountPoint: string): Promise<MountEntry[]> {
  const table = await readMountTable();
  const self = table.filter((m) => m.mountPoint === mountPoint).at(-1);
  if (!self) return [];
  const inside = (d: string): boolean => d === mountPoint || d.startsWith(`${mountPoint}/`);
  return table.filter((m) => m !== self && (m.device === self.device || (m.fsType === 'overlay' && overlayDirs(m.superOptions).some(inside))));
}
