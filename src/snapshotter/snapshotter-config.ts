// turbo-snapshotter's configuration: a JSON file whose missing keys take the defaults of src/defaults.ts (keys in docs/containerd.md).
import { readFileSync } from 'node:fs';
import { DEFAULT_MOUNT_AHEAD_IDLE_MS, DEFAULT_SNAPSHOTTER_ADDRESS, DEFAULT_SNAPSHOTTER_ROOT, SNAPSHOTTER_SHUTDOWN_GRACE_MS } from '../defaults.js';
import { ImageError } from '../errors.js';

/** Settings of a turbo-snapshotter daemon. */
export interface SnapshotterConfig {
  /** State directory (metadata.db, lazy.db, snapshots/, lazy/). */
  root: string;
  /** Unix socket path containerd connects to. */
  address: string;
  /** Grace period for running calls on shutdown, in ms. */
  shutdownGraceMs: number;
  /** `host:port` of the Prometheus endpoint (GET /metrics); empty: no endpoint. */
  metricsAddress: string;
  /** Extra `turbo-index serve-nbd` flags for every lazy chain's daemon (span cache, registry TLS/auth, read timeout…). */
  serveNbdArgs: string[];
  /** How long a chain mounted ahead (at the lazy Prepare of an image's top layer) may stay unused, in ms; 0: mount only on use. */
  mountAheadIdleMs: number;
}

type KeyType = 'string' | 'number' | 'string[]';

const KEYS: Record<keyof SnapshotterConfig, KeyType> = { root: 'string', address: 'string', shutdownGraceMs: 'number', metricsAddress: 'string', serveNbdArgs: 'string[]', mountAheadIdleMs: 'number' };

/** serve-nbd flags the snapshotter sets itself for each chain; a config must not override them. */
const RESERVED_SERVE_NBD_FLAGS = ['--socket', '--pid-file', '--layers', '--export-name', '--index-digest'];

function hasType(v: unknown, type: KeyType): boolean {
  if (type === 'string[]') return Array.isArray(v) && v.every((x) => typeof x === 'string');
  return typeof v === type;
}

/** The defaults, overlaid with the JSON config file (if given), overlaid with explicit `overrides` (undefined = not given). */
export function loadSnapshotterConfig(file: string | undefined, overrides: Partial<SnapshotterConfig> = {}): SnapshotterConfig {
  const config: SnapshotterConfig = {
    root: DEFAULT_SNAPSHOTTER_ROOT,
    address: DEFAULT_SNAPSHOTTER_ADDRESS,
    shutdownGraceMs: SNAPSHOTTER_SHUTDOWN_GRACE_MS,
    metricsAddress: '',
    serveNbdArgs: [],
    mountAheadIdleMs: DEFAULT_MOUNT_AHEAD_IDLE_MS,
  };
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
      if (!hasType(v, type)) throw new ImageError('INVALID_ARGUMENT', `config key ${k} must be a ${type === 'string[]' ? 'list of strings' : type}`, { details: { file, key: k } });
      (config as unknown as Record<string, unknown>)[k] = v;
    }
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
  const reserved = config.serveNbdArgs.find((a) => RESERVED_SERVE_NBD_FLAGS.includes(a.split('=')[0]!));
  if (reserved !== undefined) {
    throw new ImageError('INVALID_ARGUMENT', `serveNbdArgs must not contain ${reserved.split('=')[0]}: the snapshotter sets it per chain`, {
      details: { flag: reserved },
      hint: `leave out ${RESERVED_SERVE_NBD_FLAGS.join(', ')}`,
    });
  }
  return config;
}
