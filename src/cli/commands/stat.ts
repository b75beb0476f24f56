// `turbo-index stat <image-ref> <path>`: the stat of a path of an indexed image, read lazily (no root, no mount).
import type { CommandModule } from 'yargs';

import { openExt4, type Ext4Stat } from '../../ext4/reader/ext4-volume.js';
import { openImageDevice, withImageDeviceOptions, type ImageDeviceArgs } from './image-device-options.js';
import { writeOut } from './output.js';

interface StatArgs extends ImageDeviceArgs {
  path: string;
  json?: boolean;
}

/** The JSON form of a stat (times as seconds and nanoseconds). */
export function statJson(s: Ext4Stat): { type: string; ino: number; mode: number; perm: number; nlink: number; uid: number; gid: number; size: number; blocks: number; mtime: { sec: number; nsec: number }; rdev?: { major: number; minor: number } } {
  return { type: s.type, ino: s.ino, mode: s.mode, perm: s.perm, nlink: s.nlink, uid: s.uid, gid: s.gid, size: s.size, blocks: s.blocks, mtime: s.mtime, ...(s.rdev ? { rdev: s.rdev } : {}) };
}

/** `turbo-index stat`. */
export const statCommand: CommandModule<object, StatArgs> = {
  command: 'stat <image-ref> <path>',
  describe: 'print the stat of a path in an indexed image (symlinks not followed; no root, no mount)',
  builder: (y) =>
    withImageDeviceOptions(y)
      .positional('path', { type: 'string', demandOption: true, describe: 'absolute path in the image' })
      .option('json', { type: 'boolean', describe: 'print JSON (all stat fields, xattr names, symlink target)' }) as never,
  handler: async (argv) => {
    const vol = await openExt4(await openImageDevice(argv));
    try {
      const s = await vol.lstat(argv.path);
      const target = s.type === 'symlink' ? await vol.readlink(argv.path) : undefined;
      const xattrs = await vol.listXattrs(argv.path, { follow: false });
      if (argv.json) {
        await writeOut(`${JSON.stringify({ path: argv.path, ...s, ...(target !== undefined ? { target } : {}), xattrs }, null, 2)}\n`);
        return;
      }
      const lines = [
        `path: ${argv.path}${target !== undefined ? ` -> ${target}` : ''}`,
        `type: ${s.type}`,
        `size: ${s.size}`,
        `blocks: ${s.blocks}`,
        `inode: ${s.ino}`,
        `links: ${s.nlink}`,
        `mode: 0${s.perm.toString(8).padStart(4, '0')}`,
        `uid: ${s.uid}`,
        `gid: ${s.gid}`,
        ...(s.rdev ? [`rdev: ${s.rdev.major},${s.rdev.minor}`] : []),
        `mtime: ${s.mtime.sec}.${String(s.mtime.nsec).padStart(9, '0')}`,
        `ctime: ${s.ctime.sec}.${String(s.ctime.nsec).padStart(9, '0')}`,
        ...(xattrs.length ? [`xattrs: ${xattrs.join(' ')}`] : []),
      ];
      await writeOut(`${lines.join('\n')}\n`);
    } finally {
      await vol.close();
    }
  },
};
