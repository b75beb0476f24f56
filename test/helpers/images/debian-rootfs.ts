// The Debian bookworm minbase root filesystem made by debootstrap, trimmed and cached as a tar.gz (root only).
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { hasCommand, hasRoot } from '../capabilities.js';
import { cachedFixture } from '../fixture-cache.js';
import { run } from './run.js';

/** Debian's default mirror, used when the machine's apt sources name none. */
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** Bump when the debootstrap recipe or the trimming changes. */
const ROOTFS_VERSION = 1;

/**
 * The mirror debootstrap should use: $TURBO_OCI_DEBIAN_MIRROR, else the first `deb` URI of this machine's apt
 * sources that serves a plain suite (not -security/-updates), else Debian's default mirror.
 */
export function debianMirror(): string {
  if (process.env.TURBO_OCI_DEBIAN_MIRROR) return process.env.TURBO_OCI_DEBIAN_MIRROR;
  const found: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  const files = existsSync(dir) ? readdirSync(dir).sort().map((f) => path.join(dir, f)) : [];
  for (const file of files.filter((f) => f.endsWith('.sources'))) {
    // deb822 stanzas separated by blank lines: "Types: deb", "URIs: …", "Suites: …".
    for (const stanza of readFileSync(file, 'utf8').split(/\n\s*\n/)) {
      const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1]?.trim().split(/\s+/) ?? [];
      if (/^Enabled:\s*no/mi.test(stanza) || !field('Types').includes('deb')) continue;
      if (!field('Suites').some((s) => !s.includes('-'))) continue;
      found.push(...field('URIs'));
    }
  }
  for (const file of ['/etc/apt/sources.list', ...files.filter((f) => f.endsWith('.list'))]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      // deb [options] uri suite components…
      const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
      if (m && !m[2]!.includes('-')) found.push(m[1]!);
    }
  }
  return found.find((u) => /^https?:\/\//.test(u)) ?? DEFAULT_DEBIAN_MIRROR;
}

/** Throws a 'SKIP:' error when this machine cannot build the Debian fixture. */
export function assertCanBuildDebian(): void {
  const missing = ['debootstrap', 'umoci', 'skopeo'].filter((c) => !hasCommand(c));
  if (!hasRoot) throw new Error('SKIP: the Debian fixture image needs root (debootstrap)');
  if (missing.length > 0) throw new Error(`SKIP: the Debian fixture image needs ${missing.join(', ')} (bash scripts/setup-system.sh)`);
}

/** Paths (relative to the rootfs) removed after debootstrap: caches, logs, package lists, device nodes. */
const TRIM_GLOBS = ['var/lib/apt/lists/*', 'var/cache/apt/*.bin', 'var/cache/apt/archives/*.deb', 'var/log/*.log', 'dev/*'];

/**
 * Path of `rootfs.tar.gz`: `debootstrap --variant=minbase bookworm` trimmed of TRIM_GLOBS, archived with numeric
 * owners and xattrs. Cached; the first call downloads ~30 MB of packages and takes about a minute.
 */
export async function debianRootfsTarball(): Promise<string> {
  assertCanBuildDebian();
  const dir = await cachedFixture('debian-minbase-rootfs', ROOTFS_VERSION, async (out) => {
    const rootfs = path.join(out, 'rootfs');
    await run('debootstrap', ['--variant=minbase', 'bookworm', rootfs, debianMirror()]);
    await run('sh', ['-c', `cd "${rootfs}" && rm -rf ${TRIM_GLOBS.join(' ')}`]);
    await run('sh', ['-c', `tar --numeric-owner --xattrs --xattrs-include='*' -C "${rootfs}" -cpf - . | gzip -1 > "${out}/rootfs.tar.gz"`]);
    rmSync(rootfs, { recursive: true, force: true });
  });
  return path.join(dir, 'rootfs.tar.gz');
}

/** Extracts the cached minbase rootfs into `dest` (created by the caller; root needed for ownership). */
export async function extractDebianRootfs(dest: string): Promise<void> {
  const tarball = await debianRootfsTarball();
  await run('tar', ['--numeric-owner', '--xattrs', "--xattrs-include=*", '-C', dest, '-xzpf', tarball]);
}
