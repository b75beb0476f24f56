// `turbo-index gzip-index build|read|info`: build a seek index of a layer file, read uncompressed ranges, show an index.
import type { Argv, CommandModule } from 'yargs';

import { DEFAULT_SPAN_BYTES, MIN_SPAN_BYTES } from '../../defaults.js';
import { ImageError } from '../../errors.js';
import { parseBytes } from './byte-count.js';
import { SEEK_INDEX_VERSION, type SeekIndex } from '../../format/seek-index.js';
import { FileSource, fileChunks } from '../../io/file-source.js';
import { readSeekIndexFile, writeSeekIndexFile } from '../../io/seek-index-file.js';
import { buildSeekIndex } from '../../../indexer/seek/seek-index-builder.js';
import { selectEngine } from '../../seek/engine-select.js';
import { SpanReader } from '../../seek/span-reader.js';

/** Bytes handed to stdout per write when streaming a read. */
const READ_PIECE_BYTES = 8 * 1024 * 1024;

function parseCount(value: unknown, flag: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new ImageError('INVALID_ARGUMENT', `${flag} must be a non-negative integer, got '${String(value)}'`);
  return n;
}

async function writeStdout(buf: Buffer): Promise<void> {
  if (buf.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(buf, (err) => (err ? reject(err) : resolve()));
  });
}

function summary(index: SeekIndex, indexBytes: number): Record<string, string | number | boolean> {
  const windowStored = index.points.reduce((s, p) => s + p.windowStored.length, 0);
  return {
    version: SEEK_INDEX_VERSION,
    kind: index.identity ? 'identity' : 'gzip',
    layerDigest: `sha256:${index.layerSha256.toString('hex')}`,
    compressedBytes: index.compressedBytes,
    uncompressedBytes: index.uncompressedBytes,
    members: index.members,
    trailingZeroBytes: index.trailingZeroBytes,
    spanBytes: index.spanBytes,
    windowBytes: index.windowBytes,
    windowZstdLevel: index.windowLevel,
    points: index.points.length,
    memberStartPoints: index.points.filter((p) => p.memberStart).length,
    windowStoredBytes: windowStored,
    indexBytes,
    indexPercentOfLayer: index.compressedBytes === 0 ? 0 : Number(((100 * indexBytes) / index.compressedBytes).toFixed(3)),
  };
}

const build: CommandModule<object, { layer: string; output: string; span: string }> = {
  command: 'build <layer>',
  describe: 'index a gzip (or plain tar) layer file in one streaming pass',
  builder: (y) =>
    y
      .positional('layer', { type: 'string', demandOption: true, describe: 'layer blob (tar+gzip or tar)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'index file to write' })
      .option('span', { type: 'string', default: '1MiB', describe: `uncompressed bytes between seek points (n or 1MiB, >= ${MIN_SPAN_BYTES})` }),
  handler: async (argv) => {
    const spanBytes = argv.span === undefined ? DEFAULT_SPAN_BYTES : parseBytes(argv.span, '--span');
    const engine = selectEngine();
    const started = performance.now();
    const index = await buildSeekIndex(fileChunks(argv.layer), { spanBytes, engine });
    const bytes = await writeSeekIndexFile(argv.output, index);
    const s = summary(index, bytes);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `${argv.output}: ${s.kind}, ${s.points} points, ${s.members} members, ${index.uncompressedBytes} bytes uncompressed, ` +
        `index ${bytes} bytes (${s.indexPercentOfLayer}% of layer), engine ${engine.name}, ${seconds.toFixed(2)} s\n`,
    );
  },
};

const read: CommandModule<object, { layer: string; index: string; offset: number; length: number }> = {
  command: 'read <layer> <index>',
  describe: 'write uncompressed bytes [offset, offset+length) of the layer to stdout',
  builder: (y) =>
    y
      .positional('layer', { type: 'string', demandOption: true, describe: 'layer blob the index was built from' })
      .positional('index', { type: 'string', demandOption: true, describe: 'seek index file' })
      .option('offset', { type: 'number', demandOption: true, describe: 'uncompressed start offset' })
      .option('length', { type: 'number', demandOption: true, describe: 'bytes to read (clamped at the end)' }),
  handler: async (argv) => {
    const offset = parseCount(argv.offset, '--offset');
    const length = parseCount(argv.length, '--length');
    const { index } = await readSeekIndexFile(argv.index);
    const source = await FileSource.open(argv.layer);
    try {
      // One piece: inflate only up to the end of the range; several pieces: keep whole spans for the next piece.
      const reader = new SpanReader(index, source, { engine: selectEngine(), cacheBytes: length <= READ_PIECE_BYTES ? 0 : undefined });
      const end = Math.min(offset + length, reader.size);
      for (let at = offset; at < end; at += READ_PIECE_BYTES) {
        await writeStdout(await reader.read(at, Math.min(READ_PIECE_BYTES, end - at)));
      }
    } finally {
      await source.close();
    }
  },
};

const info: CommandModule<object, { index: string; json: boolean }> = {
  command: 'info <index>',
  describe: 'show the header, points and sizes of a seek index',
  builder: (y) =>
    y
      .positional('index', { type: 'string', demandOption: true, describe: 'seek index file' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
  handler: async (argv) => {
    const { index, bytes } = await readSeekIndexFile(argv.index);
    const s = summary(index, bytes);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      return;
    }
    const width = Math.max(...Object.keys(s).map((k) => k.length));
    process.stdout.write(Object.entries(s).map(([k, v]) => `${k.padEnd(width)}  ${String(v)}`).join('\n') + '\n');
  },
};

/** The gzip-index command group. */
export const gzipIndexCommand: CommandModule = {
  command: 'gzip-index <command>',
  describe: 'seekable gzip: build, read and inspect zran-style seek indexes',
  builder: (y: Argv) => y.command(build).command(read).command(info).demandCommand(1, 'name a gzip-index command; see --help'),
  handler: () => undefined,
};
