import { createHash } from 'node:crypto';

/**
 * OCI chain IDs: the first layer's chain ID is its diff ID; each next one is
 * sha256 of "<parent chain ID> <diff ID>". They name a stack of layers, so
 * images sharing a base share its snapshots.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? diffId : 'sha256:' + createHash('sha256').update(`${parent} ${diffId}`).digest('hex'));
  }
  return out;
}
