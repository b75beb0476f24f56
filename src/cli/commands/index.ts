// The list of turbo-index commands: one module per top-level verb, loaded only when its verb runs (all of them for --help).
import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

/** A top-level verb (or two sharing a module) and how to load its command modules. */
interface CommandEntry {
  names: string[];
  load: () => Promise<AnyCommand[]>;
}

/** Every top-level command, in --help order. Loading a module loads its dependencies (gRPC, SQLite, the indexer…), so each is imported on demand. */
const ENTRIES: CommandEntry[] = [
  { names: ['gzip-index'], load: async () => [(await import('./gzip-index.js')).gzipIndexCommand] },
  { names: ['registry'], load: async () => [(await import('./registry.js')).registryCommand] },
  { names: ['ext4'], load: async () => [(await import('./ext4.js')).ext4Command] },
  { names: ['build'], load: async () => [(await import('./build.js')).buildCommand] },
  { names: ['inspect'], load: async () => [(await import('./inspect.js')).inspectCommand] },
  { names: ['verify'], load: async () => [(await import('./verify.js')).verifyCommand] },
  { names: ['ls'], load: async () => [(await import('./ls.js')).lsCommand] },
  { names: ['cat'], load: async () => [(await import('./cat.js')).catCommand] },
  { names: ['stat'], load: async () => [(await import('./stat.js')).statCommand] },
  { names: ['serve-nbd'], load: async () => [(await import('./serve-nbd.js')).serveNbdCommand] },
  {
    names: ['mount', 'umount'],
    load: async () => {
      const m = await import('./mount.js');
      return [m.mountCommand, m.umountCommand];
    },
  },
  { names: ['pull'], load: async () => [(await import('./pull.js')).pullCommand] },
  { names: ['annotate'], load: async () => [(await import('./annotate.js')).annotateCommand] },
];

/** The verbs turbo-index knows. */
export const COMMAND_NAMES: string[] = ENTRIES.flatMap((e) => e.names);

/** The command modules to register for `argv`: only the module of its verb when it names one, else every module (--help, a typo, no verb). */
export async function commandsFor(argv: string[]): Promise<AnyCommand[]> {
  const verb = argv.find((a) => !a.startsWith('-'));
  const named = ENTRIES.find((e) => verb !== undefined && e.names.includes(verb));
  if (named) return named.load();
  return (await Promise.all(ENTRIES.map((e) => e.load()))).flat();
}
