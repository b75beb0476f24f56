// Runs the built `turbo-index` CLI (dist/) as a child process for end-to-end tests: exit status, stdout, stderr.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** Path of the built CLI entry point. */
export const CLI_PATH = path.resolve(import.meta.dirname, '../../dist/src/cli/main.js');

/** What a CLI run produced. */
export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `turbo-index args…` to completion with extra environment variables (HOME pointed away from the user's). */
export async function turboIndex(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  try {
    const r = await run(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, HOME: '/nonexistent-home', ...env }, maxBuffer: 1 << 26 });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Starts `turbo-index args…` without waiting; `done` resolves with its result. */
export function spawnTurboIndex(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, HOME: '/nonexistent-home', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : -1), stdout, stderr })));
  return { child, done };
}
