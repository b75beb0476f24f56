// Big fixtures are generated once and cached outside the clone, keyed by generator name and version.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Cache root: TURBO_OCI_CACHE_DIR, else /var/cache/turbo-oci (root) or ~/.cache/turbo-oci. */
export function fixtureCacheRoot(): string {
  if (process.env.TURBO_OCI_CACHE_DIR) return process.env.TURBO_OCI_CACHE_DIR;
  if (process.getuid?.() === 0) return '/var/cache/turbo-oci';
  return path.join(process.env.HOME ?? '/tmp', '.cache', 'turbo-oci');
}

/**
 * Returns the directory of fixture `name` at generator `version`, generating it first if absent.
 * Generation writes into a temp dir that is renamed into place, so a crash never leaves half a fixture;
 * a concurrent generator of the same fixture wastes work but both end with a complete directory.
 */
export async function cachedFixture(name: string, version: number, generate: (dir: string) => Promise<void>): Promise<string> {
  const root = fixtureCacheRoot();
  const dir = path.join(root, `${name}-v${version}`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  mkdirSync(root, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    await generate(tmp);
    writeFileSync(path.join(tmp, '.complete'), new Date().toISOString());
    if (existsSync(path.join(dir, '.complete'))) return dir;
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // A concurrent generator renamed its complete copy into place first (ENOTEMPTY/EEXIST): use that one.
      if (!existsSync(path.join(dir, '.complete'))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
