// Device nodes and fifos, created with coreutils' mknod: Node has no mknod(2).
// One process per node is acceptable: layers hold few of them (/dev is
// normally empty in images, and whiteouts are the main source).
import { runTool } from './run-tool.js';

export type NodeKind = 'char' | 'block' | 'fifo';

const TYPE_ARG: Record<NodeKind, string> = { char: 'c', block: 'b', fifo: 'p' };

/** Creates the node at an absolute path whose parents are already verified; the path must not exist. */
export async function makeNode(
  absPath: string,
  kind: NodeKind,
  mode: number,
  major: number,
  minor: number,
  signal?: AbortSignal,
): Promise<void> {
  // The path is absolute, so it can never be taken for an option.
  const args = ['-m', (mode & 0o7777).toString(8), absPath, TYPE_ARG[kind]];
  if (kind !== 'fifo') args.push(String(major), String(minor));
  await runTool('mknod', args, { signal });
}
