// OCI chain IDs (image-spec v1.1 config.md "Layer ChainID"): the identity of a layer together with every layer below it.
import { createHash } from 'node:crypto';

/** ChainIDs of a stack of diffIDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const previous = out[out.length - 1];
    out.push(previous === undefined ? diffId : `sha256:${createHash('sha256').update(`${previous} ${diffId}`).digest('hex')}`);
  }
  return out;
}
