// Runs external fixture tools (debootstrap, umoci, skopeo, tar) and fails with their stderr when they do.
import { spawn } from 'node:child_process';

/** Options of a tool run. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes fed to stdin. */
  input?: Buffer | string;
}

/** Runs `command args…`, resolves with stdout; rejects with the exit status and the tail of stderr. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const tail = Buffer.concat(err).toString('utf8').slice(-4000);
      reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${tail}`));
    });
    // A tool may exit without reading its stdin (EPIPE); its exit status decides, so the write error is ignored.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
