// indexLayerStream: one read and one inflate of a layer give the seek index, the diffID and the tar scan; results do not depend on chunking or engine; bad blobs are CORRUPT.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { demoLayerEntries } from '../../../../fixtures/demo/generate.js';
import { decodeEntryTable } from '../../../../indexer/artifact/entry-table.js';
import { indexLayerStream } from '../../../../indexer/pipeline/layer-stream-index.js';
import { scanTarBuffer } from '../../../../indexer/tar/scan-tar.js';
import { isImageError } from '../../../../src/errors.js';
import { decodeSeekIndex } from '../../../../src/format/seek-index.js';
import { chunksOf, testEngines } from '../../../helpers/gzip-fixture-set.js';
import { tarBytes } from '../../../helpers/images.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const SPAN = 64 * 1024;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isImageError(err) ? err.code : `NOT_IMAGE_ERROR: ${String(err)}`;
  }
  return undefined;
}

describe('indexLayerStream', () => {
  const tar = tarBytes(demoLayerEntries()[0]!);
  const gz = gzipSync(tar, { level: 6 });

  for (const engine of testEngines()) {
    it(`${engine.name}: gzip layer: entries equal a scan of the tar, diffID is its sha256, same output for any chunking (byte by byte included)`, async () => {
      const expected = scanTarBuffer(tar);
      const outputs: Buffer[] = [];
      // Byte by byte with pako; the native engine hands each chunk to a worker thread, so it gets 97-byte chunks to stay quick.
      for (const size of [gz.length, 65536, 4093, engine.name === 'native' ? 97 : 1]) {
        const r = await indexLayerStream(chunksOf(gz, size), { digest: sha(gz), size: gz.length, spanBytes: SPAN, engine });
        expect(r.gzip).toBe(true);
        expect(r.entryTable.entries).toEqual(expected);
        expect(r.entryTable.diffId).toBe(sha(tar));
        expect(r.uncompressedBytes).toBe(tar.length);
        expect(decodeEntryTable(r.entryTableBlob)).toEqual(r.entryTable);
        const seek = decodeSeekIndex(r.seekIndexBlob);
        expect(seek.points.length).toBe(r.points);
        expect(seek.points.length).toBeGreaterThan(1);
        outputs.push(Buffer.concat([r.seekIndexBlob, r.entryTableBlob]));
      }
      for (const o of outputs) expect(o.equals(outputs[0]!)).toBe(true);
    });
  }

  for (const engine of testEngines()) {
    it(`${engine.name}: plain tar layer: identity seek index, entries and diffID from the bytes as they are, any chunking`, async () => {
      const outputs: Buffer[] = [];
      for (const size of [tar.length, 777, 1]) {
        const r = await indexLayerStream(chunksOf(tar, size), { digest: sha(tar), size: tar.length, spanBytes: SPAN, engine });
        expect(r.gzip).toBe(false);
        expect(r.points).toBe(0);
        expect(decodeSeekIndex(r.seekIndexBlob).identity).toBe(true);
        expect(r.entryTable.entries).toEqual(scanTarBuffer(tar));
        expect(r.entryTable.diffId).toBe(sha(tar));
        expect(r.uncompressedBytes).toBe(tar.length);
        outputs.push(Buffer.concat([r.seekIndexBlob, r.entryTableBlob]));
      }
      for (const o of outputs) expect(o.equals(outputs[0]!)).toBe(true);
    });
  }

  it('a blob that does not match its descriptor (digest or size) is CORRUPT; a truncated or garbled gzip fails with CORRUPT/TRUNCATED', async () => {
    const engine = testEngines()[0]!;
    const flipped = Buffer.from(gz);
    flipped[flipped.length - 6]! ^= 0xff; // inside the gzip trailer (ISIZE): inflates fine, digest differs
    expect(await codeOf(indexLayerStream(chunksOf(flipped, 8192), { digest: sha(gz), size: gz.length, spanBytes: SPAN, engine }))).toBe('CORRUPT');
    expect(await codeOf(indexLayerStream(chunksOf(gz, 8192), { digest: sha(gz), size: gz.length + 1, spanBytes: SPAN, engine }))).toBe('CORRUPT');
    const cut = gz.subarray(0, gz.length - 100);
    expect(['CORRUPT', 'TRUNCATED']).toContain(await codeOf(indexLayerStream(chunksOf(cut, 8192), { digest: sha(cut), size: cut.length, spanBytes: SPAN, engine })));
    const garbled = Buffer.from(gz);
    for (let i = 200; i < 400; i++) garbled[i] = 0xaa;
    expect(['CORRUPT', 'TRUNCATED']).toContain(await codeOf(indexLayerStream(chunksOf(garbled, 8192), { digest: sha(garbled), size: garbled.length, spanBytes: SPAN, engine })));
  });

  it('an aborted read stops with the abort reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(indexLayerStream(chunksOf(gz, 8192), { digest: sha(gz), size: gz.length, spanBytes: SPAN, engine: testEngines()[0]!, signal: ac.signal })).rejects.toThrow('stop');
  });
});
