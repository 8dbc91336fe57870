import { DEFAULT_CGROUP_ROOT, detectCgroupVersion } from './detect.js';
import type { CgroupStats } from './types.js';
import { readV1 } from './v1.js';
import { readV2 } from './v2.js';

export { type CgroupVersion, DEFAULT_CGROUP_ROOT, detectCgroupVersion } from './detect.js';
export type { CgroupStats } from './types.js';

export interface ReadCgroupStatsOptions {
  /** Where cgroupfs is mounted; /sys/fs/cgroup unless testing against a fake tree. */
  root?: string;
}

/**
 * CPU, memory and pids statistics of one cgroup, read straight from cgroupfs
 * (v1/hybrid or v2, detected once per root), all files in parallel.
 *
 * `cgroupsPath` is the absolute cgroupfs path given to runc (e.g.
 * /kubepods/pod<uid>/<container id>); systemd-style "slice:prefix:name" paths
 * are not supported. Resolves undefined when the cgroup no longer exists
 * (container gone or being torn down). Throws on a malformed path or
 * unexpected file contents.
 */
export async function readCgroupStats(cgroupsPath: string, options: ReadCgroupStatsOptions = {}): Promise<CgroupStats | undefined> {
  if (!cgroupsPath.startsWith('/') || cgroupsPath.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw new TypeError(`cgroups path must be absolute and normalized, got ${JSON.stringify(cgroupsPath)}`);
  }
  const path = cgroupsPath.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  const root = options.root ?? DEFAULT_CGROUP_ROOT;
  const version = await detectCgroupVersion(root);
  return version === 2 ? readV2(root, path) : readV1(root, path);
}
