import { promises as fs } from 'node:fs';

/**
 * A directory only root may enter, or root and the host group of a
 * user-namespaced pod's root (0710), which must pass through it to reach
 * its rootfs and volumes from inside its user namespace.
 */
export async function privateDir(dir: string, podGid?: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (podGid === undefined) {
    await fs.chmod(dir, 0o700);
    return;
  }
  await fs.chown(dir, 0, podGid);
  await fs.chmod(dir, 0o710);
}
