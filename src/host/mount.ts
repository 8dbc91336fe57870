import { readFileSync } from 'node:fs';

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

export function isMountPoint(path: string): boolean {
  return mountPoints().has(path);
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
  for (let i = 0; i < 8 && isMountPoint(target); i++) {
    const res = await run('umount', [target]);
    if (res.code !== 0) {
      // Busy: detach now, the kernel frees it when the last user goes.
      const lazy = await run('umount', ['-l', target]);
      if (lazy.code !== 0 && isMountPoint(target)) throw new Error(`umount ${target}: ${(res.stderr || lazy.stderr).trim()}`);
    }
  }
}

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
