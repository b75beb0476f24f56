// `turbo-index cat <image-ref> <path>`: writes a regular file of an indexed image to stdout, fetching only its spans.
import type { CommandModule } from 'yargs';

import { openExt4 } from '../../ext4/reader/ext4-volume.js';
import { openImageDevice, withImageDeviceOptions, type ImageDeviceArgs } from './image-device-options.js';
import { writeOut } from './output.js';

interface CatArgs extends ImageDeviceArgs {
  path: string;
}

/** `turbo-index cat`. */
export const catCommand: CommandModule<object, CatArgs> = {
  command: 'cat <image-ref> <path>',
  describe: 'write a file of an indexed image to stdout, reading it lazily (no root, no mount)',
  builder: (y) => withImageDeviceOptions(y).positional('path', { type: 'string', demandOption: true, describe: 'absolute path in the image (symlinks followed)' }) as never,
  handler: async (argv) => {
    const vol = await openExt4(await openImageDevice(argv));
    try {
      const file = await vol.openFile(argv.path);
      for await (const chunk of file.chunks()) await writeOut(chunk);
    } finally {
      await vol.close();
    }
  },
};
