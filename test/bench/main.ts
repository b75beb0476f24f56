// Benchmark dispatcher: `npm run bench -- <name>` runs test/bench/<name>.ts (benchmarks are not tests).
import { readdirSync } from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'main.ts' && f !== 'benchmarks-doc.ts')
  .map((f) => f.slice(0, -3))
  .sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>   (available: ${available.join(', ') || 'none'})`);
  process.exit(2);
}
await import(path.join(here, `${name}.ts`));
