#!/usr/bin/env node
// turbo-snapshotter: the daemon entry point serving containerd's snapshot API for a proxy_plugins entry; prints and exits only here.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ImageError, toImageError } from '../errors.js';
import { OverlaySnapshotter } from '../snapshotter/overlay-snapshotter.js';
import { startSnapshotService } from '../snapshotter/service.js';
import { SnapshotterMetrics } from '../snapshotter/snapshotter-metrics.js';
import { startMetricsServer } from '../backstore/metrics-server.js';
import { loadSnapshotterConfig } from '../snapshotter/snapshotter-config.js';
import { EXIT_STATUS } from './exit-codes.js';

/** Runs the daemon until SIGTERM/SIGINT; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const args = await yargs(argv)
      .scriptName('turbo-snapshotter')
      .usage('$0 [--root <dir>] [--address <socket>] [--config <file.json>]\n\nServes containerd.services.snapshots.v1.Snapshots (overlayfs semantics) on a unix socket.')
      .strict()
      .option('root', { type: 'string', describe: 'state directory (metadata.db, snapshots/)' })
      .option('address', { type: 'string', describe: 'unix socket to listen on (mode 0600)' })
      .option('config', { type: 'string', describe: 'JSON config file: {"root", "address", "shutdownGraceMs", "metricsAddress", "serveNbdArgs", "mountAheadIdleMs"} (docs/containerd.md)' })
      .option('metrics-address', { type: 'string', describe: 'serve Prometheus metrics at http://<host:port>/metrics (config key metricsAddress)' })
      .help()
      .version(false)
      .fail((msg, err) => {
        throw err ?? new ImageError('INVALID_ARGUMENT', msg, { hint: 'run turbo-snapshotter --help' });
      })
      .parseAsync();
    const config = loadSnapshotterConfig(args.config, { root: args.root, address: args.address, metricsAddress: args['metrics-address'] });
    mkdirSync(path.dirname(config.address), { recursive: true, mode: 0o700 });
    // Lazy layers are served by `turbo-index serve-nbd` daemons started from the CLI next to this file (mounting needs root).
    const snapshotter = new OverlaySnapshotter(config.root, { serveNbd: { command: [process.execPath, path.join(import.meta.dirname, 'main.js')], extraArgs: config.serveNbdArgs }, mountAheadIdleMs: config.mountAheadIdleMs });
    const metrics = new SnapshotterMetrics(snapshotter, snapshotter.catalog);
    const service = await startSnapshotService(snapshotter, config.address, { metrics });
    const metricsServer = config.metricsAddress === '' ? undefined : await startMetricsServer(metrics, config.metricsAddress);
    if (metricsServer) process.stderr.write(`turbo-snapshotter: metrics at ${metricsServer.url}\n`);
    process.stderr.write(`turbo-snapshotter: serving ${config.address} (root ${config.root})\n`);
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    process.stderr.write(`turbo-snapshotter: ${signal}, shutting down\n`);
    await service.close(config.shutdownGraceMs);
    await metricsServer?.close();
    await snapshotter.close();
    return 0;
  } catch (err) {
    const error = toImageError(err);
    process.stderr.write(`turbo-snapshotter: ${error.describe()}\n`);
    return EXIT_STATUS[error.code];
  }
}

process.exitCode = await main(hideBin(process.argv));
