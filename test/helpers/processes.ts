// Looks processes up in /proc: whether one still runs, its argv, and which ones (e.g. serve-nbd daemons) mention a path.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** True while `pid` exists and is not a zombie. */
export function processRuns(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The parent pid of `pid` (field 4 of /proc/<pid>/stat), or undefined when it is gone. */
function parentPid(pid: number): number | undefined {
  try {
    return Number(/^\d+ \(.*\) \S (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/** The argv of process `pid` (from /proc/<pid>/cmdline, without the trailing empty string). */
export function processArgv(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
}

/**
 * Running processes whose argv contains the word `word` (an argument equal to it or to a path ending in it; with a list,
 * one of them) and an argument containing `needle`, with their argv, by pid.
 */
export function processArgvsMentioning(word: string | readonly string[], needle: string): { pid: number; argv: string[] }[] {
  const words = typeof word === 'string' ? [word] : word;
  const out: { pid: number; argv: string[] }[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const pid = Number(name);
    try {
      const argv = processArgv(pid);
      if (argv.some((a) => words.includes(a) || words.includes(path.basename(a))) && argv.some((a) => a.includes(needle)) && processRuns(pid)) out.push({ pid, argv });
    } catch {
      // gone
    }
  }
  // A child between fork and exec (a shell running `sleep`, node spawning) still shows its parent's argv: not a process of its own.
  const pids = new Set(out.map((p) => p.pid));
  return out.filter((p) => {
    const parent = parentPid(p.pid);
    return !(parent !== undefined && pids.has(parent) && out.find((q) => q.pid === parent)!.argv.join('\0') === p.argv.join('\0'));
  }).sort((a, b) => a.pid - b.pid);
}

/** Pids of running processes whose argv contains the word `word` (e.g. 'serve-nbd'; with a list, one of them) and an argument mentioning `needle`. */
export function processesMentioning(word: string | readonly string[], needle: string): number[] {
  return processArgvsMentioning(word, needle).map((p) => p.pid);
}
