// A >= 200 MB gzip layer of real /usr files: streaming builds (native and pako, identical) and 200 random reads vs the tar.
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { buildSeekIndex } from '../../indexer/seek/seek-index-builder.js';
import { DEFAULT_SPAN_BYTES } from '../../src/defaults.js';
import { encodeSeekIndex } from '../../src/format/seek-index.js';
import { FileSource, fileChunks } from '../../src/io/file-source.js';
import { selectEngine } from '../../src/seek/engine-select.js';
import { pakoEngine } from '../../src/seek/pako-engine.js';
import { SpanReader } from '../../src/seek/span-reader.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { usrLayer } from '../helpers/gzip-fixture-set.js';
import { SeededRandom } from '../helpers/random.js';

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe.skipIf(missingNeeds({ commands: ['gzip', 'tar'], paths: ['/usr/share', '/usr/lib/x86_64-linux-gnu'] }))('large real-file gzip layer', () => {
  it('indexes 200+ MB in one pass and serves 200 random reads byte for byte', async () => {
    const { tar, gz } = await usrLayer();
    const tarBytes = statSync(tar).size;
    expect(tarBytes).toBeGreaterThanOrEqual(200 * 1024 * 1024);
    const engine = selectEngine();
    console.log(`large gzip layer: engine ${engine.name}, ${tarBytes} bytes uncompressed`);
    const index = await buildSeekIndex(fileChunks(gz), { spanBytes: DEFAULT_SPAN_BYTES, engine });
    expect(index.uncompressedBytes).toBe(tarBytes);
    expect(index.layerSha256.toString('hex')).toBe(await sha256File(gz));
    expect(index.points.length).toBeGreaterThan(100);
    if (engine.name === 'native') {
      // Differential on real data: the pako engine must write the same index byte for byte.
      const pako = await buildSeekIndex(fileChunks(gz, 3 * 1024 * 1024 + 7), { spanBytes: DEFAULT_SPAN_BYTES, engine: pakoEngine });
      expect(encodeSeekIndex(pako).equals(encodeSeekIndex(index))).toBe(true);
    }
    const source = await FileSource.open(gz);
    const fd = openSync(tar, 'r');
    try {
      const reader = new SpanReader(index, source, { engine, cacheBytes: 0, verifySpans: true });
      const rnd = new SeededRandom('gzip-large-reads');
      for (let k = 0; k < 200; k++) {
        const length = k % 4 === 0 ? 1 + rnd.int(3 * 1024 * 1024) : 1 + rnd.int(64 * 1024);
        const offset = k === 0 ? tarBytes - length : rnd.int(tarBytes);
        const got = await reader.read(offset, length);
        const want = Buffer.alloc(Math.min(length, tarBytes - offset));
        readSync(fd, want, 0, want.length, offset);
        expect(got.equals(want), `read ${offset}+${length}`).toBe(true);
      }
    } finally {
      closeSync(fd);
      await source.close();
    }
  }, 1_800_000);
});
