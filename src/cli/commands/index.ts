// The list of turbo-index commands: one module per top-level verb; only working commands are listed.
import type { CommandModule } from 'yargs';

import { annotateCommand } from './annotate.js';
import { buildCommand } from './build.js';
import { catCommand } from './cat.js';
import { lsCommand } from './ls.js';
import { mountCommand, umountCommand } from './mount.js';
import { pullCommand } from './pull.js';
import { serveNbdCommand } from './serve-nbd.js';
import { statCommand } from './stat.js';
import { ext4Command } from './ext4.js';
import { gzipIndexCommand } from './gzip-index.js';
import { inspectCommand } from './inspect.js';
import { registryCommand } from './registry.js';
import { verifyCommand } from './verify.js';

/** Every top-level command of the turbo-index CLI. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const COMMANDS: CommandModule<any, any>[] = [gzipIndexCommand, registryCommand, ext4Command, buildCommand, inspectCommand, verifyCommand, lsCommand, catCommand, statCommand, serveNbdCommand, mountCommand, umountCommand, pullCommand, annotateCommand];
