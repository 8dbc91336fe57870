import { promises as fs } from 'node:fs';
import path from 'node:path';

import { errnoCode } from '../errors.js';

export interface DiskUsage {
  bytes: number;
  inodes: number;
}

/** Allocated bytes and inode count under a directory (hard links counted once). */
export async function diskUsage(dir: string, seen = new Set<string>()): Promise<DiskUsage> {
  let bytes = 0;
  let inodes = 0;
  const walk = async (p: string): Promise<void> => {
    let st;
    try {
      st = await fs.lstat(p, { bigint: false });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    inodes++;
    bytes += st.blocks * 512;
    if (st.isDirectory()) {
      const names = await fs.readdir(p).catch(() => [] as string[]);
      for (const name of names) await walk(path.join(p, name));
    }
  };
  await walk(dir);
  return { bytes, inodes };
}

/** The mount point of the filesystem holding `dir` (longest matching mount in mountinfo). */
export async function mountPointOf(dir: string): Promise<string> {
  const real = await fs.realpath(dir);
  const lines = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  let best = '/';
  for (const line of lines) {
    const mount = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (!mount) continue;
    if ((real === mount || real.startsWith(mount.endsWith('/') ? mount : mount + '/')) && mount.length > best.length) best = mount;
  }
  return best;
}
