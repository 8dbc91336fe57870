import { constants, promises as fs } from 'node:fs';
import path from 'node:path';

import { errnoCode, SkiffError } from '../../errors.js';

const MAX_SYMLINKS = 40; // Linux's MAXSYMLINKS
const MAX_SIZE = 4 * 1024 * 1024;

/**
 * Resolves `p` inside `root` the way the container will see it: symlinks are
 * followed as if `root` were `/` (an absolute target restarts at `root`, `..`
 * stops at it). The image is untrusted: /etc/passwd as a symlink to
 * /etc/shadow must read the image's own file, never the host's.
 *
 * Returns undefined when some component does not exist.
 */
export async function resolveInRoot(root: string, p: string): Promise<string | undefined> {
  const done: string[] = [];
  let todo = p.split('/');
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      done.pop();
      continue;
    }
    const here = path.join(root, ...done, c);
    let st;
    try {
      st = await fs.lstat(here);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new SkiffError('InvalidArgument', `too many symlinks resolving ${p} in the container's root`);
      const target = await fs.readlink(here);
      if (target.startsWith('/')) done.length = 0;
      todo = [...target.split('/'), ...todo];
      continue;
    }
    done.push(c);
  }
  return path.join(root, ...done);
}

/**
 * Reads a regular file of the container's root filesystem, or returns
 * undefined when it does not exist. A FIFO or device in its place (which would
 * block or never end) and files over 4 MiB are refused.
 */
export async function readRootFile(root: string, p: string): Promise<string | undefined> {
  const resolved = await resolveInRoot(root, p);
  if (resolved === undefined) return undefined;
  let fh;
  try {
    // O_NOFOLLOW: the resolved last component is not a symlink; if it became one since, refuse.
    fh = await fs.open(resolved, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new SkiffError('InvalidArgument', `reading ${p} in the container's root: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SkiffError('InvalidArgument', `${p} in the container's root is not a regular file`);
    if (st.size > MAX_SIZE) throw new SkiffError('InvalidArgument', `${p} in the container's root is larger than ${MAX_SIZE} bytes`);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
