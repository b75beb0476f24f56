// Enforces the layering of docs/architecture.md: formats → engines → I/O → services → CLI; imports point down only.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Rank of each source area; a file may import files of equal or lower rank only. Longest prefix wins. */
const RANKS: [prefix: string, rank: number][] = [
  ['src/errors.ts', 0],
  ['src/defaults.ts', 0],
  ['src/format/', 0],
  ['src/native.ts', 1],
  ['src/seek/', 1],
  ['src/ext4/', 1],
  ['indexer/', 1],
  ['src/io/', 2],
  ['src/registry/', 2],
  ['src/backstore/', 2],
  ['src/store/', 2],
  ['indexer/publish/', 2],
  ['indexer/pipeline/', 2],
  ['src/nbd/', 3],
  ['src/mount/', 3],
  ['src/snapshotter/', 3],
  ['src/cli/', 4],
];

/** Packages whose use means I/O or a service; pure format code must not touch them. */
const IO_MODULES = [
  /^node:(fs|net|http|https|http2|child_process|dgram|tls|worker_threads|cluster|dns)(\/|$)/,
  /^(undici|better-sqlite3|yargs|@grpc\/)/,
];

function rankOf(rel: string): number {
  let best: [string, number] | undefined;
  for (const entry of RANKS) if (rel.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  if (!best) throw new Error(`${rel} is in no layer: add it to RANKS in test/architecture.test.ts and docs/architecture.md`);
  return best[1];
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function importsOf(rel: string): string[] {
  const text = readFileSync(path.join(ROOT, rel), 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

const files = [...sourceFiles('src'), ...sourceFiles('indexer')];

describe('architecture', () => {
  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(3);
  });

  it('every source file belongs to a layer', () => {
    for (const f of files) expect(() => rankOf(f)).not.toThrow();
  });

  it('local imports point to the same or a lower layer', () => {
    const violations: string[] = [];
    for (const f of files) {
      for (const spec of importsOf(f)) {
        if (!spec.startsWith('.')) continue;
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), spec)).replace(/\.js$/, '.ts');
        if (rankOf(target) > rankOf(f)) violations.push(`${f} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('format code does no I/O', () => {
    const violations: string[] = [];
    for (const f of files.filter((f) => rankOf(f) === 0)) {
      for (const spec of importsOf(f)) if (IO_MODULES.some((re) => re.test(spec))) violations.push(`${f} imports ${spec}`);
    }
    expect(violations).toEqual([]);
  });

  it('only the CLI imports yargs, only src/native.ts loads the addon', () => {
    const violations: string[] = [];
    for (const f of files) {
      const specs = importsOf(f);
      if (!f.startsWith('src/cli/') && specs.some((s) => s === 'yargs' || s.startsWith('yargs/'))) violations.push(`${f} imports yargs`);
      if (f !== 'src/native.ts' && /\.node['"]/.test(readFileSync(path.join(ROOT, f), 'utf8'))) violations.push(`${f} loads a .node binary`);
    }
    expect(violations).toEqual([]);
  });
});
