// Generated sections of docs/benchmarks.md: replaced between their markers, appended when new, hand-written text kept.
import { describe, expect, it } from 'vitest';
import { replaceBenchmarkSection } from '../../bench/benchmarks-doc.js';

describe('replaceBenchmarkSection', () => {
  const doc = '# Benchmarks\n\nintro\n\n<!-- a:begin -->\n## a\n\nold a\n<!-- a:end -->\n\n### a: notes\n\nby hand\n';

  it('replaces only the text between the markers of that name', () => {
    const out = replaceBenchmarkSection(doc, 'a', '## a\n\nnew a\n');
    expect(out).toBe(doc.replace('old a', 'new a'));
    expect(replaceBenchmarkSection(out, 'a', '## a\n\nold a')).toBe(doc);
  });

  it('appends a new section, with a heading when the content has none', () => {
    expect(replaceBenchmarkSection(doc, 'b', '## b\n\nbody')).toBe(`${doc.trimEnd()}\n\n<!-- b:begin -->\n## b\n\nbody\n<!-- b:end -->\n`);
    expect(replaceBenchmarkSection(doc, 'b', 'body')).toBe(`${doc.trimEnd()}\n\n## b\n\n<!-- b:begin -->\nbody\n<!-- b:end -->\n`);
  });

  it('ignores a lone marker (appends instead of cutting the document)', () => {
    const broken = '# B\n\n<!-- c:end -->\n\n<!-- c:begin -->\n';
    expect(replaceBenchmarkSection(broken, 'c', '## c\n\nx').startsWith(broken.trimEnd())).toBe(true);
  });
});
