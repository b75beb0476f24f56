// Picks the inflate engine: the native addon when it loads, else pako (TURBO_OCI_ZLIB=pako forces pako).
import { ImageError } from '../errors.js';
import { loadNative, nativeLoadError } from '../native.js';
import type { InflateEngine } from './inflate-engine.js';
import { nativeEngine } from './native-engine.js';
import { pakoEngine } from './pako-engine.js';

/** Which engine to use: 'auto' prefers native and falls back to pako. */
export type EngineChoice = 'auto' | 'native' | 'pako';

/** The engine for `choice`; 'native' throws UNAVAILABLE with the load error when the addon cannot load. */
export function selectEngine(choice: EngineChoice = 'auto'): InflateEngine {
  if (choice === 'pako') return pakoEngine;
  const binding = loadNative();
  if (binding) return nativeEngine(binding);
  if (choice === 'native') {
    throw new ImageError('UNAVAILABLE', `the native zlib addon is not available: ${nativeLoadError() ?? 'unknown reason'}`, {
      hint: 'run npm run build:native, or use the pako engine',
    });
  }
  return pakoEngine;
}

/** Why the native engine is not in use, or undefined when it is. */
export function nativeUnavailableReason(): string | undefined {
  return loadNative() ? undefined : (nativeLoadError() ?? 'unknown reason');
}
