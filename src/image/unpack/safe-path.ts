// Where an entry may be written. Names are resolved lexically (never by the
// kernel) to a path below the root, and every existing ancestor is checked
// with lstat to be a real directory: a layer may contain symlinks pointing
// anywhere, but nothing is ever written *through* one. The layer directory is
// ours alone while it is unpacked, so checks made here stay true until an
// entry of the layer itself replaces a path, which forgetSubtree accounts for.
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { errnoCode } from '../../errors.js';
import { UnsafeLayerError } from './unsafe-layer-error.js';

/**
 * The archive name as a clean relative path ('' for the root itself): `./`
 * prefixes, `.` and empty components dropped, `..` applied lexically.
 * Throws for absolute names, NUL bytes and `..` climbing above the root;
 * `entry` and `what` word the error (a hardlink's target is checked alike).
 */
export function cleanEntryName(name: string, entry = name, what = 'name'): string {
  if (name.includes('\0')) throw new UnsafeLayerError(entry, `${what} contains a NUL byte`);
  if (name.startsWith('/')) throw new UnsafeLayerError(entry, `${what} is absolute`);
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new UnsafeLayerError(entry, `${what} climbs above the layer root`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
}

/** Removes `rel` and everything below it from a path-keyed set or map. */
export function forgetSubtree(paths: Set<string> | Map<string, unknown>, rel: string): void {
  paths.delete(rel);
  const prefix = rel === '' ? '' : rel + '/';
  for (const key of paths.keys()) if (key.startsWith(prefix)) paths.delete(key);
}

/** Ancestor checks for one layer directory, remembering directories already proven real. */
export class SafeTree {
  /** Relative paths known to be real directories ('' is the root). */
  private readonly dirs = new Set<string>(['']);

  constructor(readonly root: string) {}

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  /**
   * Makes every ancestor of `rel` a real directory, creating missing ones (0755,
   * as tar does for implied parents). `entry` names the archive entry for errors.
   */
  async prepareParents(rel: string, entry: string): Promise<void> {
    await this.walkParents(rel, entry, true);
  }

  /** Like prepareParents, but every ancestor must already exist (hardlink targets). */
  async checkParents(rel: string, entry: string): Promise<void> {
    await this.walkParents(rel, entry, false);
  }

  /** Whether `rel` is known to be a real directory whose ancestors are too. */
  isDir(rel: string): boolean {
    return this.dirs.has(rel);
  }

  /** Records that `rel` is now a real directory (just created or verified). */
  markDir(rel: string): void {
    this.dirs.add(rel);
  }

  /** `rel` was removed or replaced: nothing at or below it is known any more. */
  forget(rel: string): void {
    forgetSubtree(this.dirs, rel);
    this.dirs.add('');
  }

  private async walkParents(rel: string, entry: string, create: boolean): Promise<void> {
    const parts = rel.split('/');
    let path = '';
    for (let i = 0; i < parts.length - 1; i++) {
      path = path === '' ? parts[i]! : `${path}/${parts[i]}`;
      if (this.dirs.has(path)) continue;
      const abs = this.abs(path);
      let st;
      try {
        st = await lstat(abs);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        if (!create) throw new UnsafeLayerError(entry, `"${path}" does not exist`);
        // mkdir does not follow a symlink in its last component, and every
        // component before it has just been proven a real directory.
        await mkdir(abs, 0o755);
        await chmod(abs, 0o755); // the umask must not decide the image's permissions
        this.dirs.add(path);
        continue;
      }
      if (st.isSymbolicLink()) throw new UnsafeLayerError(entry, `path passes through symlink "${path}"`);
      if (!st.isDirectory()) throw new UnsafeLayerError(entry, `parent "${path}" is not a directory`);
      this.dirs.add(path);
    }
  }
}
