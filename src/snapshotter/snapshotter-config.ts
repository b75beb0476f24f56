// turbo-snapshotter's configuration: a JSON file ({ "root", "address" }) whose missing keys take the defaults of src/defaults.ts.
import { readFileSync } from 'node:fs';
import { DEFAULT_SNAPSHOTTER_ADDRESS, DEFAULT_SNAPSHOTTER_ROOT, SNAPSHOTTER_SHUTDOWN_GRACE_MS } from '../defaults.js';
import { ImageError } from '../errors.js';

/** Settings of a turbo-snapshotter daemon. */
export interface SnapshotterConfig {
  /** State directory (metadata.db, snapshots/). */
  root: string;
  /** Unix socket path containerd connects to. */
  address: string;
  /** Grace period for running calls on shutdown, in ms. */
  shutdownGraceMs: number;
}

const KEYS: Record<keyof SnapshotterConfig, 'string' | 'number'> = { root: 'string', address: 'string', shutdownGraceMs: 'number' };

/** The defaults, overlaid with the JSON config file (if given), overlaid with explicit `overrides`. */
export function loadSnapshotterConfig(file: string | undefined, overrides: Partial<SnapshotterConfig> = {}): SnapshotterConfig {
  const config: SnapshotterConfig = { root: DEFAULT_SNAPSHOTTER_ROOT, address: DEFAULT_SNAPSHOTTER_ADDRESS, shutdownGraceMs: SNAPSHOTTER_SHUTDOWN_GRACE_MS };
  if (file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new ImageError('INVALID_ARGUMENT', `cannot read the config file ${file}`, { details: { file }, cause, hint: 'the config is a JSON object, see docs/containerd.md' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ImageError('INVALID_ARGUMENT', `config file ${file} is not a JSON object`, { details: { file } });
    for (const [k, v] of Object.entries(parsed)) {
      const type = KEYS[k as keyof SnapshotterConfig];
      if (type === undefined) throw new ImageError('INVALID_ARGUMENT', `unknown config key ${JSON.stringify(k)} in ${file}`, { details: { file, key: k }, hint: `known keys: ${Object.keys(KEYS).join(', ')}` });
      if (typeof v !== type) throw new ImageError('INVALID_ARGUMENT', `config key ${k} must be a ${type}`, { details: { file, key: k } });
      (config as unknown as Record<string, unknown>)[k] = v;
    }
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
  return config;
}
