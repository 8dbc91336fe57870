// cgroup helpers for the cgroupfs driver, hybrid-aware. On a hybrid host
// the v1 controllers live under /sys/fs/cgroup/<controller> and a cgroup2
// hierarchy sits at /sys/fs/cgroup/unified; runc puts an absolute cgroupsPath
// `/a/b` at `<mount>/a/b` in every one of them (v2-only hosts work the same way
// with a single mount). Mount points come from /proc/self/mountinfo rather than
// a fixed list, so co-mounted controllers (cpu,cpuacct) and odd layouts resolve.
import { readFileSync } from 'node:fs';
import { readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { errnoCode, SkiffError } from '../errors.js';
import type { CgroupOps } from './oci-runtime.js';

export interface CgroupMount {
  /** Where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  version: 1 | 2;
  /** v1: the controllers of this hierarchy (`memory`, `cpu`+`cpuacct`, `name=systemd`…); v2: empty. */
  controllers: string[];
}

export interface CgroupPaths {
  /** v1 controller name → the cgroup's directory in that hierarchy. */
  controllers: Record<string, string>;
  /** The cgroup's directory in the cgroup2 hierarchy, when one is mounted. */
  unified?: string;
  /** Every distinct directory above, one per hierarchy. */
  dirs: string[];
}

const V1_CONTROLLERS = new Set([
  'blkio',
  'cpu',
  'cpuacct',
  'cpuset',
  'devices',
  'freezer',
  'hugetlb',
  'memory',
  'misc',
  'net_cls',
  'net_prio',
  'perf_event',
  'pids',
  'rdma',
]);

/** Parses the cgroup and cgroup2 mounts out of a mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  const seen = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    const mountPoint = unescapeMountinfo(pre[4] ?? '');
    if (fstype === 'cgroup2') {
      if (!seen.has('v2')) out.push({ mountPoint, version: 2, controllers: [] });
      seen.add('v2');
    } else if (fstype === 'cgroup') {
      const controllers = superOpts.split(',').filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
      const key = [...controllers].sort().join(',');
      if (controllers.length === 0 || seen.has(key)) continue; // a second mount of the same hierarchy
      seen.add(key);
      out.push({ mountPoint, version: 1, controllers });
    }
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

let cachedMounts: CgroupMount[] | undefined;

/** The host's cgroup mounts, read once (they do not change while the daemon runs). */
export function cgroupMounts(): CgroupMount[] {
  cachedMounts ??= parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  return cachedMounts;
}

/**
 * Only absolute, normalized paths: a relative cgroupsPath would land under the
 * caller's own cgroup, and `..` would walk out of the hierarchy.
 */
export function validateCgroupsPath(cgroupsPath: string): void {
  const segs = cgroupsPath.split('/').slice(1);
  if (!cgroupsPath.startsWith('/') || segs.some((s) => s === '' || s === '.' || s === '..')) {
    if (cgroupsPath !== '/')
      throw new SkiffError('InvalidArgument', `cgroupsPath must be absolute and normalized: ${JSON.stringify(cgroupsPath)}`);
  }
}

export function cgroupPaths(cgroupsPath: string, mounts: readonly CgroupMount[] = cgroupMounts()): CgroupPaths {
  validateCgroupsPath(cgroupsPath);
  const paths: CgroupPaths = { controllers: {}, dirs: [] };
  for (const m of mounts) {
    const dir = join(m.mountPoint, cgroupsPath);
    paths.dirs.push(dir);
    if (m.version === 2) paths.unified = dir;
    else for (const c of m.controllers) paths.controllers[c] = dir;
  }
  return paths;
}

/** Pids in the cgroup, merged over every hierarchy (a process moved in one still counts). */
export async function cgroupPids(cgroupsPath: string, mounts?: readonly CgroupMount[]): Promise<number[]> {
  const all = new Set<number>();
  for (const dir of cgroupPaths(cgroupsPath, mounts).dirs) {
    let text: string;
    try {
      text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    for (const line of text.split('\n')) if (line !== '') all.add(Number(line));
  }
  return [...all];
}

export interface KillAllResult {
  /** Distinct pids signalled. */
  signalled: number;
  /** Pids still in the cgroup when we gave up (SIGKILL only; empty on success). */
  remaining: number[];
}

/**
 * Sends `signal` to every process in the container's cgroup. For SIGKILL it
 * loops until the cgroup is empty (a process may fork between reading the list
 * and the kill) or the timeout passes; where cgroup2's cgroup.kill exists it is
 * used first, as it also catches forks in flight. Other signals go out once.
 */
export async function killAll(
  cgroupsPath: string,
  signal: NodeJS.Signals | number = 'SIGKILL',
  opts: { timeoutMs?: number; mounts?: readonly CgroupMount[] } = {},
): Promise<KillAllResult> {
  const isKill = signal === 'SIGKILL' || signal === osConstants.signals.SIGKILL;
  const signalled = new Set<number>();
  if (isKill) {
    const unified = cgroupPaths(cgroupsPath, opts.mounts).unified;
    if (unified) {
      const before = await cgroupPids(cgroupsPath, opts.mounts);
      // Absent before Linux 5.14, or the cgroup does not exist there: the loop below still works.
      if (
        await writeFile(join(unified, 'cgroup.kill'), '1').then(
          () => true,
          () => false,
        )
      )
        for (const pid of before) signalled.add(pid);
    }
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    const pids = await cgroupPids(cgroupsPath, opts.mounts);
    if (pids.length === 0) return { signalled: signalled.size, remaining: [] };
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
        signalled.add(pid);
      } catch {
        // exited meanwhile
      }
    }
    if (!isKill) return { signalled: signalled.size, remaining: [] };
    if (Date.now() >= deadline) return { signalled: signalled.size, remaining: pids };
    await sleep(10);
  }
}

/**
 * Removes the container's cgroup (and any child cgroups, deepest first) in
 * every hierarchy. `stopAt` (a cgroupsPath prefix such as `/` or `/kubepods`)
 * also removes the parents runc leaves behind, up to but not including it.
 * Retries while the kernel still reports the cgroup busy (just-killed tasks).
 */
export async function removeCgroup(
  cgroupsPath: string,
  opts: { stopAt?: string; timeoutMs?: number; mounts?: readonly CgroupMount[] } = {},
): Promise<void> {
  const mounts = opts.mounts ?? cgroupMounts();
  if (cgroupsPath === '/') throw new SkiffError('InvalidArgument', 'refusing to remove the root cgroup');
  if (opts.stopAt !== undefined) validateCgroupsPath(opts.stopAt);
  const deadline = Date.now() + (opts.timeoutMs ?? 2000);
  const failures: string[] = [];
  await Promise.all(
    mounts.map(async (m) => {
      const dir = join(m.mountPoint, cgroupsPath);
      try {
        await rmdirTree(dir, deadline);
        if (opts.stopAt !== undefined) await removeEmptyParents(dir, join(m.mountPoint, opts.stopAt));
      } catch (err) {
        failures.push(`${dir}: ${(err as Error).message}`);
      }
    }),
  );
  if (failures.length > 0) throw new SkiffError('Internal', `cannot remove cgroup ${cgroupsPath}: ${failures.join('; ')}`);
}

/** rmdir of a cgroup directory and its child cgroups; a missing directory is fine. */
async function rmdirTree(dir: string, deadline: number): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  // In cgroupfs the only directories are child cgroups; files are the controls.
  for (const e of entries) if (e.isDirectory()) await rmdirTree(join(dir, e.name), deadline);
  for (;;) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() >= deadline) throw err;
      await sleep(20);
    }
  }
}

/**
 * Removes the empty parent directories of `path` (a filesystem path), walking
 * up while they are strictly below `stopAt`; stops at the first that is not
 * empty. `path` itself is left alone, and nothing happens unless `path` lies under `stopAt`.
 */
export async function removeEmptyParents(path: string, stopAt: string): Promise<void> {
  const stop = stopAt.endsWith('/') && stopAt.length > 1 ? stopAt.slice(0, -1) : stopAt;
  const under = (p: string): boolean => p.startsWith(stop === '/' ? '/' : `${stop}/`) && p !== stop;
  if (!under(path)) return;
  for (let p = dirname(path); under(p); p = dirname(p)) {
    try {
      await rmdir(p);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') continue;
      if (code === 'EBUSY' || code === 'ENOTEMPTY' || code === 'EEXIST') return; // still in use: its parents are too
      throw err;
    }
  }
}

/**
 * How many times the kernel OOM killer fired in the cgroup: the `oom_kill` line
 * of v1 memory.oom_control (kernel ≥ 4.13), else v2 memory.events. 0 when
 * neither is readable (cgroup already removed, no memory controller): callers
 * then rely on conmon's `oom` marker (exit-watcher.ts oomKilled).
 */
export async function oomKillCount(cgroupsPath: string, mounts?: readonly CgroupMount[]): Promise<number> {
  const paths = cgroupPaths(cgroupsPath, mounts);
  const candidates = [
    ...(paths.controllers['memory'] ? [join(paths.controllers['memory'], 'memory.oom_control')] : []),
    ...(paths.unified ? [join(paths.unified, 'memory.events')] : []),
  ];
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const m = /^oom_kill (\d+)$/m.exec(text);
    if (m) return Number(m[1]);
  }
  return 0;
}

/** The real cgroup filesystem behind the CgroupOps seam. */
export const hostCgroups: CgroupOps = {
  killAll: async (p) => {
    await killAll(p, 'SIGKILL');
  },
  remove: async (p) => {
    await removeCgroup(p);
  },
  oomKills: (p) => oomKillCount(p),
};
