// What this machine can do: root, commands, kernel features. Gated tests skip with the printed reason.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** True when running as root (loop mounts, FUSE, containerd). */
export const hasRoot = process.getuid?.() === 0;

/** True when `command` is on PATH (or in /sbin, /usr/sbin). */
export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command} || test -x /usr/sbin/${command} || test -x /sbin/${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why a test gated on these needs cannot run here, or undefined when it can. Prints the reason once. */
export function missingNeeds(needs: { root?: boolean; commands?: string[]; paths?: string[] }): string | undefined {
  const reasons: string[] = [];
  if (needs.root && !hasRoot) reasons.push('needs root');
  for (const c of needs.commands ?? []) if (!hasCommand(c)) reasons.push(`needs the ${c} command (bash scripts/setup-system.sh)`);
  for (const p of needs.paths ?? []) if (!existsSync(p)) reasons.push(`needs ${p}`);
  if (reasons.length === 0) return undefined;
  const reason = reasons.join('; ');
  console.warn(`SKIP: ${reason}`);
  return reason;
}
