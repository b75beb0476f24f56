// Bounded reading of response bodies: whole bodies up to a limit (LIMIT_EXCEEDED past it), error bodies as text.
import type { Readable } from 'node:stream';

import { ImageError } from '../errors.js';

/** Reads all of `body`, failing with LIMIT_EXCEEDED (and destroying the stream) once more than `maxBytes` arrived. */
export async function readBodyBounded(body: Readable & { dump?: () => Promise<void> }, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      discardBody(body);
      throw new ImageError('LIMIT_EXCEEDED', `${what} is larger than the ${maxBytes}-byte limit`, { details: { limitBytes: maxBytes } });
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/** Reads up to `maxBytes` of `body` as UTF-8 and discards the rest; never throws. */
export async function readBodyText(body: Readable, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (total < maxBytes) chunks.push(chunk.subarray(0, maxBytes - total));
      total += chunk.length;
    }
  } catch {
    // a broken error body still leaves the status to report
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Abandons a response body (closing its connection) without an unhandled 'error' event. */
export function discardBody(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}
