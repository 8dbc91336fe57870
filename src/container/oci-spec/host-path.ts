import { realpathSync } from 'node:fs';

import { errnoCode, invalidArgument, SkiffError } from '../../errors.js';

/**
 * The host path a CRI mount or device names, with symlinks resolved: runc
 * would otherwise resolve them itself at start, later than we check, and a
 * bind of a symlink's target is what kubelet means anyway. A missing path is
 * the request's fault: Skiff does not create it (kubelet prepares hostPath
 * volumes; DirectoryOrCreate is its job).
 */
export function resolveHostPath(hostPath: string, what: string): string {
  if (!hostPath.startsWith('/')) throw invalidArgument(`${what}: host path "${hostPath}" must be absolute`);
  try {
    return realpathSync(hostPath);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw invalidArgument(`${what}: host path "${hostPath}" does not exist`);
    throw new SkiffError('Internal', `${what}: resolving host path "${hostPath}": ${(err as Error).message}`, { cause: err });
  }
}

/** "/a/b/" and "/a//b" are "/a/b"; the path must be absolute. */
export function cleanContainerPath(p: string, what: string): string {
  if (!p.startsWith('/')) throw invalidArgument(`${what}: container path "${p}" must be absolute`);
  const parts: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return '/' + parts.join('/');
}
