import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { errnoCode } from '../errors.js';
import { run, runChecked } from './run.js';

// mount(8) and umount(8): Node has no mount syscalls. Each call is ~2-5 ms.

/** Mount points, as /proc/self/mountinfo lists them (octal escapes decoded). */
export function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const field = line.split(' ')[4];
    if (field) out.add(field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/**
 * Whether `p` sits on another device than its parent directory: then it is
 * a mount point for sure (undefined when either is missing). The same device
 * says nothing: a bind mount of the same filesystem keeps it.
 */
function deviceDiffers(p: string): boolean | undefined {
  try {
    return statSync(p).dev !== statSync(path.dirname(p)).dev;
  } catch {
    return undefined;
  }
}

/**
 * A stat of the path and its parent answers for mounts of another filesystem
 * (pins, overlays, tmpfs: most of Skiff's); only a path on its parent's
 * device needs the mount table, which is read and parsed whole, O(mounts),
 * in this thread.
 */
export function isMountPoint(p: string): boolean {
  const differs = deviceDiffers(p);
  if (differs === undefined) return false;
  return differs || mountPoints().has(p);
}

export async function mountTmpfs(target: string, options: string): Promise<void> {
  await runChecked('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', target]);
}

export async function mountOverlay(target: string, options: string): Promise<void> {
  await runChecked('mount', ['-t', 'overlay', '-o', options, 'overlay', target]);
}

export async function bindMount(source: string, target: string, readonly = false): Promise<void> {
  await runChecked('mount', ['--bind', source, target]);
  if (readonly) await runChecked('mount', ['-o', 'remount,bind,ro', target]);
}

export async function makeShared(target: string): Promise<void> {
  await runChecked('mount', ['--make-shared', target]);
}

/**
 * Unmounts if mounted (every stacked mount at that path); a path that is not a
 * mount point, or is gone, is fine.
 */
export async function unmount(target: string): Promise<void> {
  if (!isMountPoint(target)) return;
  for (let i = 0; i < 8; i++) {
    const res = await run('umount', [target]);
    if (res.code !== 0 && !NOT_MOUNTED.test(res.stderr)) {
      // Busy: detach now, the kernel frees it when the last user goes.
      const lazy = await run('umount', ['-l', target]);
      if (lazy.code !== 0 && !NOT_MOUNTED.test(lazy.stderr) && isMountPoint(target))
        throw new Error(`umount ${target}: ${(res.stderr || lazy.stderr).trim()}`);
    }
    // Another filesystem still mounted here (stacked mounts) shows as a device change;
    // Skiff stacks no binds of one filesystem, so the mount table need not be read again.
    if (deviceDiffers(target) !== true) return;
  }
}

/** umount(8)'s word for a path with nothing mounted on it. */
const NOT_MOUNTED = /not mounted/;

/** True when an error from fs says the path does not exist. */
export const isMissing = (err: unknown): boolean => errnoCode(err) === 'ENOENT';

/** The mount operations the lifecycle services use, as one seam (fakes in unit tests). */
export interface HostMounts {
  mountOverlay(target: string, options: string): Promise<void>;
  bindMount(source: string, target: string, readonly?: boolean): Promise<void>;
  mountTmpfs(target: string, options: string): Promise<void>;
  unmount(target: string): Promise<void>;
  isMountPoint(path: string): boolean;
}

export const hostMounts: HostMounts = { mountOverlay, bindMount, mountTmpfs, unmount, isMountPoint };
