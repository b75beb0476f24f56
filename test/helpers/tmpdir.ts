// Temporary directories of a test file, removed when the file ends, but never through a mount point still below them.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { mountsUnder } from './mount-points.js';

/** Directories made by makeTempDir in this process and not removed yet. */
const made = new Set<string>();
/** Directories already reported as left in place (one line each). */
const reported = new Set<string>();

/**
 * Removes `dir` recursively unless a mount point is at or below it (a recursive removal would delete the mounted files,
 * e.g. a running container's): then it stays, one line on stderr says so (unless `quiet`: a later attempt will), and the
 * result is false. True once it is gone.
 */
export function removeTempDir(dir: string, quiet = false): boolean {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    made.delete(dir);
    return true;
  }
  const mounts = mountsUnder(real);
  if (mounts.length > 0) {
    if (quiet || reported.has(dir)) return false;
    reported.add(dir);
    process.stderr.write(`tmpdir: left ${dir} in place: ${mounts.length} mount point(s) below it, e.g. ${mounts[mounts.length - 1]}\n`);
    return false;
  }
  rmSync(real, { recursive: true, force: true });
  made.delete(dir);
  return true;
}

/** Removes every directory made by makeTempDir that is still there (those with a mount below them stay; a failure is printed, not thrown). */
export function removeTempDirs(): void {
  for (const dir of [...made]) {
    try {
      removeTempDir(dir);
    } catch (err) {
      made.delete(dir);
      process.stderr.write(`tmpdir: could not remove ${dir}: ${(err as Error).message}\n`);
    }
  }
}

// When the test file ends: this module is evaluated while vitest collects the file (each file in its own worker), so
// this hook belongs to the file and runs after all of its own afterAll hooks.
try {
  afterAll(removeTempDirs);
} catch {
  // imported outside a vitest collection: the exit handlers below remain
}
// Fallbacks for workers that outlive one file (isolate: false): the worker's end. Vitest stops a fork worker with
// SIGTERM (its default action would skip 'exit' handlers), so remove, then let the signal take its course.
process.once('exit', removeTempDirs);
const onSigterm = () => {
  removeTempDirs();
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
};
process.once('SIGTERM', onSigterm);

/**
 * A fresh temporary directory, removed when the current test file (or describe block, when called while collecting it)
 * finishes; also when called inside a hook or a test, where vitest ignores a new afterAll hook.
 */
export function makeTempDir(prefix = 'turbo-oci-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.add(dir);
  // Quiet: the file's own hooks may unmount later; the file-level hook reports what is still mounted then.
  afterAll(() => {
    if (made.has(dir)) removeTempDir(dir, true);
  });
  return dir;
}
