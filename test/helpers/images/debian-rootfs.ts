// The Debian bookworm minbase root filesystem made by debootstrap and trimmed (root only); the mirror comes from apt's sources.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { hasCommand, hasRoot } from '../capabilities.js';
import { run } from './run.js';

/** Debian's default mirror, used when the machine's apt sources name none. */
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** An apt sources file: its path (`.sources` = deb822, else one-line format) and its text. */
export interface AptSourcesFile {
  path: string;
  text: string;
}

/** The first http(s) `deb` URI serving a plain suite (not -security/-updates) in apt sources files, if any. */
export function mirrorFromAptSources(files: AptSourcesFile[]): string | undefined {
  const found: string[] = [];
  for (const { path: file, text } of files) {
    if (file.endsWith('.sources')) {
      // deb822 stanzas separated by blank lines: "Types: deb", "URIs: …", "Suites: …".
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1]?.trim().split(/\s+/) ?? [];
        if (/^Enabled:\s*no/im.test(stanza) || !field('Types').includes('deb')) continue;
        if (!field('Suites').some((s) => !s.includes('-'))) continue;
        found.push(...field('URIs'));
      }
    } else {
      for (const line of text.split('\n')) {
        // deb [options] uri suite components…
        const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
        if (m && !m[2]!.includes('-')) found.push(m[1]!);
      }
    }
  }
  return found.find((u) => /^https?:\/\//.test(u));
}

/**
 * The mirror debootstrap should use: $TURBO_OCI_DEBIAN_MIRROR, else the first plain-suite `deb` URI of this machine's
 * apt sources (/etc/apt/sources.list.d/*.sources, *.list, /etc/apt/sources.list), else Debian's default mirror.
 */
export function debianMirror(): string {
  if (process.env.TURBO_OCI_DEBIAN_MIRROR) return process.env.TURBO_OCI_DEBIAN_MIRROR;
  const dir = '/etc/apt/sources.list.d';
  const paths = [...(existsSync(dir) ? readdirSync(dir).sort().map((f) => path.join(dir, f)) : []), '/etc/apt/sources.list'];
  const files = paths.filter((p) => (p.endsWith('.sources') || p.endsWith('.list')) && existsSync(p)).map((p) => ({ path: p, text: readFileSync(p, 'utf8') }));
  return mirrorFromAptSources(files) ?? DEFAULT_DEBIAN_MIRROR;
}

/** Throws a 'SKIP:' error when this machine cannot build the Debian fixture. */
export function assertCanBuildDebian(): void {
  const missing = ['debootstrap', 'umoci', 'skopeo'].filter((c) => !hasCommand(c));
  if (!hasRoot) throw new Error('SKIP: the Debian fixture image needs root (debootstrap)');
  if (missing.length > 0) throw new Error(`SKIP: the Debian fixture image needs ${missing.join(', ')} (bash scripts/setup-system.sh)`);
}

/** Removed after debootstrap: caches (ldconfig aux-cache holds inode numbers, so it differs per run), logs, lists, devices. */
const TRIM_GLOBS = ['var/cache/ldconfig/aux-cache', 'var/lib/apt/lists/*', 'var/cache/apt/*.bin', 'var/cache/apt/archives/*.deb', 'var/log/*.log', 'dev/*'];

/**
 * Runs `debootstrap --variant=minbase bookworm <dest> <mirror>` (about a minute; downloads ~30 MB of packages) and removes
 * TRIM_GLOBS from the result. `dest` must not exist yet or be empty.
 */
export async function debootstrapMinbase(dest: string): Promise<void> {
  assertCanBuildDebian();
  await run('debootstrap', ['--variant=minbase', 'bookworm', dest, debianMirror()]);
  await run('sh', ['-c', `cd "${dest}" && rm -rf ${TRIM_GLOBS.join(' ')}`]);
}
