// The native InflateEngine: an adapter over the node-addon-api binding of src/native.ts (Node's own zlib).
import type { NativeBinding } from '../native.js';
import type { EngineIndexer, InflateEngine } from './inflate-engine.js';

/** Wraps a loaded native binding as an InflateEngine. */
export function nativeEngine(binding: NativeBinding): InflateEngine {
  return {
    name: 'native',
    createIndexer(spanBytes: number): EngineIndexer {
      const raw = binding.createIndexer(spanBytes);
      return {
        push: (chunk) => raw.push(chunk),
        finish: () => raw.finish(),
        destroy: () => raw.destroy(),
      };
    },
    inflateFrom: (args) => binding.inflateFrom(args),
  };
}
