// Scanner warnings and rarely used typeflags: coded warning objects, `strict` turning them into errors, V/M/N/X/D.
import { describe, expect, it } from 'vitest';
import { TarBuilder } from '../../../../src/format/tar/tar-builder.js';
import { scanTarBuffer } from '../../../../indexer/tar/scan-tar.js';
import { TarScanner } from '../../../../indexer/tar/tar-scanner.js';
import type { TarWarning } from '../../../../indexer/tar/tar-entry.js';

const file = (b: TarBuilder, name: string, text = 'x'): TarBuilder => b.entry({ name, mtime: 1 }, Buffer.from(text));

describe('scanner warnings', () => {
  it('a lone zero block between entries warns with its offset and scanning goes on', () => {
    const tar = file(file(new TarBuilder(), 'a').raw(Buffer.alloc(512)), 'b').end().toBuffer();
    const warnings: TarWarning[] = [];
    const entries = scanTarBuffer(tar, { onWarning: (w) => warnings.push(w) });
    expect(entries.map((e) => e.path)).toEqual(['a', 'b']);
    expect(warnings).toEqual([expect.objectContaining({ code: 'LONE_ZERO_BLOCK', offset: 1024 })]);
  });

  it('strict mode turns each warning into CORRUPT with details.warning', () => {
    const trailing = file(new TarBuilder(), 'a').end().raw(Buffer.from('junk')).toBuffer();
    expect(scanTarBuffer(trailing)).toHaveLength(1);
    expect(() => scanTarBuffer(trailing, { strict: true })).toThrow(
      expect.objectContaining({ code: 'CORRUPT', details: expect.objectContaining({ warning: 'TRAILING_DATA', offset: 2048 }) }),
    );
    const unknown = new TarBuilder().entry({ name: 'q', typeflag: 'Q', mtime: 1 }).end().toBuffer();
    expect(() => scanTarBuffer(unknown, { strict: true })).toThrow(expect.objectContaining({ details: expect.objectContaining({ warning: 'UNKNOWN_TYPEFLAG' }) }));
    const noEnd = file(new TarBuilder(), 'a').toBuffer();
    expect(() => scanTarBuffer(noEnd, { strict: true })).toThrow(expect.objectContaining({ details: expect.objectContaining({ warning: 'MISSING_END_MARKER' }) }));
  });

  it('zero padding after the end marker (GNU tar record padding) is silent', () => {
    const s = new TarScanner();
    s.push(file(new TarBuilder(), 'a').end().raw(Buffer.alloc(9216)).toBuffer());
    s.end();
    expect(s.warnings).toEqual([]);
    expect(s.ended).toBe(true);
  });

  it('skips a GNU volume label, rejects multi-volume and old long-name members', () => {
    const label = file(new TarBuilder().entry({ name: 'VOLUME', typeflag: 'V', magic: 'gnu' }), 'a').end().toBuffer();
    const s = new TarScanner();
    expect([...s.push(label), ...s.end()].map((e) => e.path)).toEqual(['a']);
    expect(s.warnings.map((w) => w.code)).toEqual(['SKIPPED_ENTRY']);
    for (const tf of ['M', 'N']) {
      const tar = new TarBuilder().entry({ name: 'x', typeflag: tf, magic: 'gnu' }).end().toBuffer();
      expect(() => scanTarBuffer(tar)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED', details: expect.objectContaining({ offset: 0 }) }));
    }
  });

  it('reads Solaris X headers as pax and GNU D dumpdirs as directories (their data skipped)', () => {
    const tar = new TarBuilder()
      .pax([['path', 'from-X']], 'x')
      .toBuffer();
    tar[156] = 'X'.charCodeAt(0);
    tar.write('000000\0 ', 148, 'latin1');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const rest = new TarBuilder();
    file(rest, 'ignored-name');
    rest.entry({ name: 'dump/', typeflag: 'D', magic: 'gnu', mtime: 1 }, Buffer.from('Nfile\0\0'));
    file(rest, 'after');
    const entries = scanTarBuffer(Buffer.concat([tar, rest.end().toBuffer()]));
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['from-X', 'file'],
      ['dump/', 'dir'],
      ['after', 'file'],
    ]);
  });

  it('a zero block right after an extension header is CORRUPT; errors come after the entries before them', () => {
    const tar = file(new TarBuilder(), 'ok').pax([['path', 'x']]).end().toBuffer();
    const s = new TarScanner();
    expect(s.push(tar).map((e) => e.path)).toEqual(['ok']);
    expect(() => s.end()).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });
});
