// `turbo-index serve-nbd <image-ref> --socket <path>`: serves an indexed image lazily as a read-only NBD export (foreground).
import { rmSync, writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';

import { startMetricsServer, type MetricsServer } from '../../backstore/metrics-server.js';
import { serveNbd } from '../../nbd/serve-nbd.js';
import { openImageDevice, withImageDeviceOptions, type ImageDeviceArgs } from './image-device-options.js';
import { writeOut } from './output.js';

interface ServeArgs extends ImageDeviceArgs {
  socket: string;
  'export-name': string;
  'pid-file'?: string;
  'metrics-address'?: string;
}

/** Resolves on the first SIGTERM or SIGINT. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => {
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
      resolve(sig);
    };
    const term = on('SIGTERM');
    const int = on('SIGINT');
    process.on('SIGTERM', term);
    process.on('SIGINT', int);
  });
}

/** `turbo-index serve-nbd`. */
export const serveNbdCommand: CommandModule<object, ServeArgs> = {
  command: 'serve-nbd <image-ref>',
  describe: 'serve an indexed image as a read-only NBD export on a unix socket until SIGTERM/SIGINT (prints the NBD URI when ready)',
  builder: (y) =>
    withImageDeviceOptions(y)
      .option('socket', { type: 'string', demandOption: true, describe: 'unix socket path to listen on' })
      .option('export-name', { type: 'string', default: '', describe: 'NBD export name' })
      .option('pid-file', { type: 'string', describe: 'write the server pid here once it listens (removed on exit)' })
      .option('metrics-address', { type: 'string', describe: 'serve Prometheus metrics at http://<host:port>/metrics' }) as never,
  handler: async (argv) => {
    const stopped = stopSignal();
    const device = await openImageDevice(argv);
    let metrics: MetricsServer | undefined;
    try {
      rmSync(argv.socket, { force: true });
      const service = await serveNbd(device, { socketPath: argv.socket, exportName: argv['export-name'], description: device.info.imageDigest });
      try {
        if (argv['metrics-address']) metrics = await startMetricsServer(device.metrics, argv['metrics-address']);
        if (argv['pid-file']) writeFileSync(argv['pid-file'], `${process.pid}\n`);
        if (metrics) process.stderr.write(`turbo-index: metrics at ${metrics.url}\n`);
        await writeOut(`${service.uri}\n`);
        device.backgroundFetch?.then(
          () => process.stderr.write('turbo-index: background fetch done: every layer is local\n'),
          (err: unknown) => process.stderr.write(`turbo-index: background fetch stopped: ${String(err)}\n`),
        );
        await stopped;
      } finally {
        await service.close();
        await metrics?.close();
        if (argv['pid-file']) rmSync(argv['pid-file'], { force: true });
        rmSync(argv.socket, { force: true });
      }
    } finally {
      await device.close();
    }
  },
};
