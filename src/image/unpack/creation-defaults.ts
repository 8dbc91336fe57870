// What a freshly created inode gets without being told: our own uid and gid
// (or the parent's group below a setgid directory) and the requested mode
// minus the umask. When that already matches the entry, chown and chmod would
// change nothing, and skipping them saves two threadpool round trips per file
// (most image files are root-owned 0644 or 0755).
import { readFile, stat } from 'node:fs/promises';

export interface CreationDefaults {
  uid: number;
  gid: number;
  umask: number;
  /** The layer directory itself is setgid (the caller made it so, or inherited it). */
  rootSetgid: boolean;
}

export async function creationDefaults(root: string): Promise<CreationDefaults> {
  // process.umask() without an argument is deprecated (it briefly changes the umask); procfs just reads it.
  let umask = 0o7777; // unknown: never trust creation modes
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(await readFile('/proc/self/status', 'utf8'));
    if (m) umask = parseInt(m[1]!, 8);
  } catch {
    // keep the safe default
  }
  const rootSetgid = ((await stat(root)).mode & 0o2000) !== 0;
  return { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1, umask, rootSetgid };
}

/** Whether creating with `mode` yields exactly `mode`. Special bits always get an explicit chmod (after chown). */
export const modeIsDefault = (d: CreationDefaults, mode: number): boolean => (mode & 0o7000) === 0 && (mode & d.umask) === 0;

/** Whether a new inode is already owned uid:gid; never under a directory that may be setgid. */
export const ownerIsDefault = (d: CreationDefaults, uid: number, gid: number, parentMaybeSetgid: boolean): boolean =>
  !parentMaybeSetgid && uid === d.uid && gid === d.gid;
