// `turbo-index ls <image-ref> <path>`: lists a directory of an indexed image lazily (no root, no mount).
import type { CommandModule } from 'yargs';

import { openExt4 } from '../../ext4/reader/ext4-volume.js';
import { openImageDevice, withImageDeviceOptions, type ImageDeviceArgs } from './image-device-options.js';
import { writeOut } from './output.js';
import { statJson } from './stat.js';

interface LsArgs extends ImageDeviceArgs {
  path: string;
  json?: boolean;
}

/** `turbo-index ls`. */
export const lsCommand: CommandModule<object, LsArgs> = {
  command: 'ls <image-ref> <path>',
  describe: 'list a directory of an indexed image, reading only what is needed (no root, no mount)',
  builder: (y) =>
    withImageDeviceOptions(y)
      .positional('path', { type: 'string', demandOption: true, describe: 'absolute path in the image' })
      .option('json', { type: 'boolean', describe: 'print [{name, type, ino, mode, uid, gid, size, mtime, target?}]' }) as never,
  handler: async (argv) => {
    const vol = await openExt4(await openImageDevice(argv));
    try {
      const st = await vol.stat(argv.path);
      const base = argv.path.replace(/\/+$/, '');
      const entries = st.type === 'dir' ? (await vol.readdir(argv.path)).sort((a, b) => Buffer.compare(a.nameBytes, b.nameBytes)) : [];
      const rows = [];
      for (const e of st.type === 'dir' ? entries : [{ name: argv.path, type: st.type }]) {
        const full = st.type === 'dir' ? `${base}/${e.name}` : argv.path;
        const s = await vol.lstat(full);
        rows.push({ name: e.name, ...statJson(s), ...(s.type === 'symlink' ? { target: await vol.readlink(full) } : {}) });
      }
      if (argv.json) {
        await writeOut(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const r of rows) {
        const mode = `${r.type === 'dir' ? 'd' : r.type === 'symlink' ? 'l' : r.type === 'char' ? 'c' : r.type === 'block' ? 'b' : r.type === 'fifo' ? 'p' : r.type === 'socket' ? 's' : '-'}${permText(r.perm)}`;
        await writeOut(`${mode} ${r.uid}:${r.gid} ${String(r.size).padStart(10)} ${r.name}${'target' in r ? ` -> ${String(r.target)}` : ''}\n`);
      }
    } finally {
      await vol.close();
    }
  },
};

/** rwx text of permission bits, with setuid/setgid/sticky. */
function permText(perm: number): string {
  const rwx = (bits: number, special: boolean, ch: string): string =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return rwx(perm >> 6, (perm & 0o4000) !== 0, 's') + rwx(perm >> 3, (perm & 0o2000) !== 0, 's') + rwx(perm, (perm & 0o1000) !== 0, 't');
}
