import { existsSync, promises as fs } from 'node:fs';

import { errnoCode } from '../errors.js';
import { cgroupPaths } from '../runtime/cgroups.js';

/**
 * The levels of a cgroup parent path that do not exist yet: runc creates them
 * for the pod's containers and leaves them behind, so the pod owns them and
 * removes them (if empty) when it goes. Levels that existed (kubelet's) stay.
 */
export function missingCgroupLevels(parent: string): string[] {
  const parts = parent.split('/').filter(Boolean);
  const levels = parts.map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
  return levels.filter((level) => !cgroupPaths(level).dirs.some((d) => existsSync(d)));
}

/** Removes the given cgroups in every hierarchy, deepest first; busy or non-empty ones stay. */
export async function removeEmptyCgroups(paths: string[]): Promise<void> {
  for (const p of [...paths].sort((a, b) => b.length - a.length)) {
    for (const dir of cgroupPaths(p).dirs) {
      try {
        await fs.rmdir(dir);
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'ENOENT' && code !== 'EBUSY' && code !== 'ENOTEMPTY') throw err;
      }
    }
  }
}
