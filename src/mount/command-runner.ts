// Runs the external tools of mounting (mount, losetup, fusermount3) asynchronously, so an in-process NBD server keeps serving.
import { execFile } from 'node:child_process';

import { MOUNT_COMMAND_TIMEOUT_MS } from '../defaults.js';
import { ImageError } from '../errors.js';

/** Runs `command args` and returns its stdout; UNAVAILABLE (with stderr) when it fails, NOT_FOUND when it is not installed. */
export function runCommand(command: string, args: string[], timeoutMs = MOUNT_COMMAND_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      const details = { command: [command, ...args].join(' '), stderr: stderr.trim().slice(0, 2000) };
      if (e.code === 'ENOENT') reject(new ImageError('NOT_FOUND', `${command} is not installed`, { details, hint: 'run scripts/setup-system.sh', cause: err }));
      else if (e.killed) reject(new ImageError('TIMEOUT', `${command} did not finish in ${timeoutMs} ms`, { details, cause: err }));
      else reject(new ImageError('UNAVAILABLE', `${command} failed: ${stderr.trim() || e.message}`, { details, cause: err }));
    });
  });
}
