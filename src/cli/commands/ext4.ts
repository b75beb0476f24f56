// `turbo-index ext4 materialize|deltas`: build the per-layer ext4 deltas of a chain of layer tars and write a
// complete raw image (metadata from the deltas, data copied from the tars) or report the deltas' sizes.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Argv, CommandModule } from 'yargs';

import { DEFAULT_EXT4_DEVICE_BYTES, FILE_STREAM_CHUNK_BYTES } from '../../defaults.js';
import { ImageError } from '../../errors.js';
import { DeviceBlockMap } from '../../ext4/block-map.js';
import { encodeExt4Delta } from '../../format/ext4/delta-codec.js';
import { buildExt4Chain } from '../../../indexer/ext4/build-chain.js';
import { writeRawImage } from '../../../indexer/ext4/raw-image.js';

const UNITS: Record<string, number> = { '': 1, b: 1, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4 };

function parseDeviceSize(text: string | undefined): number {
  if (text === undefined) return DEFAULT_EXT4_DEVICE_BYTES;
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const value = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(value)) throw new ImageError('INVALID_ARGUMENT', `--device-size must be a byte count like 64GiB, got '${text}'`);
  return value;
}

/** Streams a layer file's uncompressed tar, gunzipping when it starts with the gzip magic. */
async function openLayerTar(path: string): Promise<AsyncIterable<Buffer>> {
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw new ImageError('NOT_FOUND', `cannot open layer ${path}`, { details: { path }, cause: err });
  });
  const head = Buffer.alloc(2);
  const { bytesRead } = await fh.read(head, 0, 2, 0);
  await fh.close();
  const file = createReadStream(path, { highWaterMark: FILE_STREAM_CHUNK_BYTES });
  if (bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: FILE_STREAM_CHUNK_BYTES });
    file.on('error', (err) => gunzip.destroy(err));
    gunzip.on('error', () => file.destroy());
    return file.pipe(gunzip);
  }
  return file;
}

function layerList(value: unknown): string[] {
  const list = (Array.isArray(value) ? value : [value]).filter((v) => v !== undefined).map(String);
  if (list.length === 0) throw new ImageError('INVALID_ARGUMENT', 'give at least one --layer', { hint: 'layers are applied in the order given, bottom first' });
  return list;
}

interface ChainArgs {
  layer: string[];
  'device-size'?: string;
}

function chainOptions<T>(y: Argv<T>): Argv<T & ChainArgs> {
  return y
    .option('layer', { type: 'string', array: true, demandOption: true, describe: 'layer tar or tar.gz, bottom first (repeat)' })
    .option('device-size', { type: 'string', describe: 'virtual ext4 device size (multiple of 128MiB)', default: undefined, defaultDescription: '64GiB' }) as Argv<
    T & ChainArgs
  >;
}

const materialize: CommandModule<object, ChainArgs & { output: string }> = {
  command: 'materialize',
  describe: 'apply the layers and write a complete raw ext4 image (sparse file) that e2fsck and the kernel can check',
  builder: (y) => chainOptions(y).option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'raw image file to write' }),
  handler: async (argv) => {
    const layers = layerList(argv.layer);
    const deviceBytes = parseDeviceSize(argv['device-size']);
    const map = new DeviceBlockMap(deviceBytes);
    const onWarning = (layer: number, w: { code: string; message: string }): void => {
      process.stderr.write(`turbo-index: warning: layer ${layer} (${layers[layer]}): ${w.code}: ${w.message}\n`);
    };
    for await (const delta of buildExt4Chain(layers.length, (i) => openLayerTar(layers[i]!), { deviceBytes, onWarning })) map.apply(delta);
    await writeRawImage(map, (i) => openLayerTar(layers[i]!), argv.output);
  },
};

const deltas: CommandModule<object, ChainArgs & { json: boolean }> = {
  command: 'deltas',
  describe: 'build the per-layer ext4 deltas and show their metadata blocks, data extents, zero ranges and size',
  builder: (y) => chainOptions(y).option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
  handler: async (argv) => {
    const layers = layerList(argv.layer);
    const deviceBytes = parseDeviceSize(argv['device-size']);
    const rows: Record<string, number | string>[] = [];
    for await (const d of buildExt4Chain(layers.length, (i) => openLayerTar(layers[i]!), { deviceBytes })) {
      rows.push({
        layer: d.layer,
        path: layers[d.layer]!,
        metadataBlocks: d.metadata.size,
        dataExtents: d.dataExtents.length,
        mappedBytes: d.dataExtents.reduce((n, e) => n + e.sectors * 512, 0),
        zeroRanges: d.zeroRanges.length,
        deltaBytes: encodeExt4Delta(d).length,
      });
    }
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ deviceBytes, layers: rows }, null, 2)}\n`);
      return;
    }
    const cols = ['layer', 'metadataBlocks', 'dataExtents', 'mappedBytes', 'zeroRanges', 'deltaBytes', 'path'];
    const table = [cols, ...rows.map((r) => cols.map((c) => String(r[c])))];
    const widths = cols.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    process.stdout.write(table.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n') + '\n');
  },
};

/** The ext4 command group. */
export const ext4Command: CommandModule = {
  command: 'ext4 <command>',
  describe: 'ext4 deltas over layer tars: materialize a raw image, inspect per-layer deltas',
  builder: (y: Argv) => y.command(materialize).command(deltas).demandCommand(1, 'name an ext4 command; see --help'),
  handler: () => undefined,
};
