// The CLI loads only the module of the verb that runs (start-up time of the serve-nbd daemon and of pull), and every module for help or a typo.
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, commandsFor } from '../../../src/cli/commands/index.js';

const verbOf = (c: { command?: string | readonly string[] }): string => String(c.command).split(' ')[0]!;

describe('commandsFor', () => {
  it('loads just the named verb (mount and umount share a module)', async () => {
    expect((await commandsFor(['serve-nbd', 'img', '--socket', 's'])).map(verbOf)).toEqual(['serve-nbd']);
    expect((await commandsFor(['umount', '/mnt'])).map(verbOf)).toEqual(['mount', 'umount']);
    expect((await commandsFor(['pull', '--help'])).map(verbOf)).toEqual(['pull']);
  });

  it('loads every verb, in help order, without one or for an unknown one', async () => {
    for (const argv of [[], ['--help'], ['serv'], ['--json']]) expect((await commandsFor(argv)).map(verbOf)).toEqual(COMMAND_NAMES);
  });
});
