#!/usr/bin/env node
// turbo-index: the command-line entry point. The only place that reads argv, prints, and sets the exit status.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

import { ImageError, toImageError } from '../errors.js';
import { commandsFor } from './commands/index.js';
import { EXIT_STATUS } from './exit-codes.js';

/** Runs the CLI with the given arguments; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let cli = yargs(argv)
    .scriptName('turbo-index')
    .strict()
    .demandCommand(1, 'name a command; see --help')
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      throw err ?? new ImageError('INVALID_ARGUMENT', msg, { hint: 'run turbo-index --help' });
    });
  for (const command of await commandsFor(argv)) cli = cli.command(command);
  try {
    await cli.parseAsync();
    return 0;
  } catch (err) {
    const error = toImageError(err);
    process.stderr.write(`turbo-index: ${error.describe()}\n`);
    if (error.code === 'INTERNAL' && process.env.TURBO_OCI_DEBUG) process.stderr.write(`${String(error.stack)}\n`);
    return EXIT_STATUS[error.code];
  }
}

process.exitCode = await main(hideBin(process.argv));
