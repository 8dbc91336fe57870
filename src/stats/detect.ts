import { access } from 'node:fs/promises';

export type CgroupVersion = 1 | 2;

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

const cache = new Map<string, Promise<CgroupVersion>>();

/**
 * v2 when the root is a pure cgroup2 mount (cgroup.controllers sits at the
 * top); otherwise v1 or hybrid, where the controllers are v1 hierarchies under
 * <root>/<controller> (a cgroup2 at <root>/unified holds no controller we read).
 * The answer is cached per root: the layout does not change while we run.
 */
export function detectCgroupVersion(root: string = DEFAULT_CGROUP_ROOT): Promise<CgroupVersion> {
  let p = cache.get(root);
  if (!p) {
    p = access(`${root}/cgroup.controllers`).then(
      (): CgroupVersion => 2,
      (): CgroupVersion => 1,
    );
    cache.set(root, p);
  }
  return p;
}
