// A cross-process lock around slow fixture generation, so parallel test workers build a fixture once instead of twice.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fixtureCacheRoot } from '../fixture-cache.js';

/** A lock older than this is considered abandoned even if its owner cannot be identified (ms). */
const ABANDONED_LOCK_MS = 30 * 60 * 1000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the lock directory belongs to a process that is gone (or is far too old to be live). */
function isStale(lockDir: string): boolean {
  try {
    const pid = Number(readFileSync(path.join(lockDir, 'pid'), 'utf8'));
    if (Number.isInteger(pid) && pid > 0) return !processAlive(pid);
  } catch {
    // The owner may not have written its pid yet; fall through to the age check.
  }
  try {
    return Date.now() - statSync(lockDir).mtimeMs > ABANDONED_LOCK_MS;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` while holding the lock `<cache root>/<name>.lock` (a directory: mkdir is atomic). Waits while another live
 * process holds it; takes over a lock whose owner died. Use around cachedFixture() of fixtures that take minutes.
 */
export async function withFixtureLock<T>(name: string, fn: () => Promise<T>, root = fixtureCacheRoot()): Promise<T> {
  mkdirSync(root, { recursive: true });
  const lockDir = path.join(root, `${name}.lock`);
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (isStale(lockDir)) rmSync(lockDir, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
