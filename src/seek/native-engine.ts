// The native InflateEngine: an adapter over the node-addon-api binding of src/native.ts (Node's own zlib).
import type { NativeBinding } from '../native.js';
import type { EngineIndexer, EngineIndexerOptions, EngineOutputIndexer, InflateEngine } from './inflate-engine.js';

/** Wraps a loaded native binding as an InflateEngine. */
export function nativeEngine(binding: NativeBinding): InflateEngine {
  return {
    name: 'native',
    createIndexer(spanBytes: number, options?: EngineIndexerOptions): EngineIndexer & EngineOutputIndexer {
      const raw = options?.emitOutput ? binding.createIndexer(spanBytes, { emitOutput: true }) : binding.createIndexer(spanBytes);
      // push resolves with points, or with { points, output } under emitOutput (the overloads keep callers apart).
      const push = (chunk: Buffer): Promise<never> => raw.push(chunk) as Promise<never>;
      return {
        push,
        finish: () => raw.finish(),
        destroy: () => raw.destroy(),
      };
    },
    inflateFrom: (args) => binding.inflateFrom(args),
  };
}
