// Builds the native addon in native/ with node-gyp against the headers of the running Node
// (no download: --nodedir points at this Node's prefix). A failed build is reported, not fatal:
// the pure-JS (pako) fallback keeps every feature working, only slower.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
if (!existsSync(path.join(nativeDir, 'binding.gyp'))) process.exit(0);
const nodeDir = path.resolve(path.dirname(process.execPath), '..');
const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.warn('turbo-oci: node-gyp is not installed; the native addon is not built (pako fallback in use)');
  process.exit(0);
}
const args = [gyp, 'rebuild', `--directory=${nativeDir}`, `--nodedir=${nodeDir}`, '--jobs=max'];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (result.status !== 0) {
  console.warn(`turbo-oci: native addon build failed (exit ${result.status}); the pako fallback will be used`);
  if (process.env.TURBO_OCI_REQUIRE_NATIVE === '1') process.exit(1);
}
