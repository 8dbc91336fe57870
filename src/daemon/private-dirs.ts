// Skiff's directories hold container root filesystems (mounted in the host's
// mount namespace, setuid binaries included), pods' shared memory, netns pins,
// attach sockets and image blobs. None of it is for local users: every
// directory below the tops is 0700, the tops 0711 (traversable, not listable),
// made so at every start in case an older Skiff or an operator left them open.
// `containers`, `infra` and `pods` are tops too: a user-namespaced pod's root
// (an unprivileged host uid) must pass through them to its own bundle and pod
// directory, which are 0710 to the pod's group; every other one is 0700.
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Directories under the state dir (runtime state, usually on tmpfs). */
export const STATE_DIRS = ['runtime', 'runtime-tmp', 'exits', 'infra-exits', 'sockets', 'ns', 'execs'] as const;
/** Directories under the state dir that hold one directory per pod or container. */
export const STATE_TOPS = ['containers', 'infra', 'pods'] as const;
/** Directories under the root dir (persistent data). */
export const ROOT_DIRS = ['content', 'snapshots', 'sandboxes', 'containers', 'images', 'cni-cache'] as const;

async function ensureMode(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  // mkdir leaves an existing directory's mode alone, and the umask trims a new one.
  await fs.chmod(dir, mode);
}

/** Creates (or tightens) the root and state directories and those under them. */
export async function securePrivateDirs(root: string, stateDir: string): Promise<void> {
  await ensureMode(root, 0o711);
  await ensureMode(stateDir, 0o711);
  for (const d of ROOT_DIRS) await ensureMode(path.join(root, d), 0o700);
  // With state_dir = root, 'containers' is both: records are 0600 files, so 0711 is fine.
  for (const d of STATE_DIRS) await ensureMode(path.join(stateDir, d), 0o700);
  for (const d of STATE_TOPS) await ensureMode(path.join(stateDir, d), 0o711);
}
