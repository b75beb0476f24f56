// The generated sections of docs/benchmarks.md: each benchmark owns the text between `<!-- <name>:begin -->` and `<!-- <name>:end -->`.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** docs/benchmarks.md of this checkout. */
export const BENCHMARKS_DOC = path.resolve(import.meta.dirname, '../../docs/benchmarks.md');

/**
 * `doc` with the marked section `name` replaced by `content` (hand-written text outside the markers is kept), or with
 * the section appended (under a `## <name>` heading unless `content` starts with a heading) when it is not there yet.
 */
export function replaceBenchmarkSection(doc: string, name: string, content: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${content.trim()}\n${end}`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) return doc.slice(0, a) + block + doc.slice(b + end.length);
  const heading = content.trimStart().startsWith('## ') ? '' : `## ${name}\n\n`;
  return `${doc.trimEnd()}\n\n${heading}${block}\n`;
}

/** Rewrites the section `name` of docs/benchmarks.md (see replaceBenchmarkSection). */
export function writeBenchmarkSection(name: string, content: string, file = BENCHMARKS_DOC): void {
  writeFileSync(file, replaceBenchmarkSection(readFileSync(file, 'utf8'), name, content));
}
