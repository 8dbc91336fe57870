// An OCI bundle on disk: the directory runc and conmon are pointed at, with
// the rootfs (an overlay of an active snapshot on the image's layers), the
// config.json, and what conmon leaves beside it. Containers and the infra
// container both go through here.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { HostMounts } from '../host/mount.js';
import type { CgroupOps } from '../runtime/oci-runtime.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';
import { writeJsonAtomic } from '../store/atomic-file.js';
import type { OciSpec } from './oci-spec/oci-spec.js';

/** What the bundle module needs of the snapshotter. */
export type SnapshotOps = Pick<OverlaySnapshotter, 'prepareActive' | 'removeActive' | 'getActive'>;

/** One bundle: where it lives and what it holds. */
export interface BundleRef {
  /** Used for the exit file and socket link names (conmon -c / -u). */
  id: string;
  dir: string;
  /** The active snapshot's key. */
  snapshotKey: string;
  cgroupsPath: string;
}

/** The cgroupsPath of a container under a pod's cgroup parent: always absolute (a relative one lands under the caller's own cgroup). */
export function cgroupsPathOf(cgroupParent: string, id: string): string {
  return path.posix.join('/', cgroupParent, id);
}

export const rootfsOf = (dir: string): string => path.join(dir, 'rootfs');

export class Bundles {
  constructor(
    private readonly o: {
      snapshots: SnapshotOps;
      mounts: HostMounts;
      cgroups: CgroupOps;
      /** conmon's exit files (one per container id). */
      exitDir: string;
      /** conmon's attach socket links (one per container id). */
      socketDir: string;
    },
  ) {}

  /** Creates the bundle dir and mounts a fresh writable layer over `parentChainId` at its rootfs. */
  async mountRootfs(ref: BundleRef, parentChainId: string): Promise<void> {
    const rootfs = rootfsOf(ref.dir);
    await fs.mkdir(rootfs, { recursive: true, mode: 0o755 });
    const { options } = await this.o.snapshots.prepareActive(ref.snapshotKey, parentChainId);
    // nodev: a device node in an image is never opened through it, neither by
    // Skiff reading the image's /etc files nor by the container (its /dev is a tmpfs).
    await this.o.mounts.mountOverlay(rootfs, `nodev,${options}`);
  }

  /**
   * Mounts the rootfs again over the snapshot it already has (after a reboot,
   * /run on disk keeps the bundle but not the mount). False when there is no snapshot.
   */
  async remountRootfs(ref: BundleRef): Promise<boolean> {
    const active = this.o.snapshots.getActive(ref.snapshotKey);
    if (!active) return false;
    await this.mountRootfs(ref, active.parent);
    return true;
  }

  isMounted(ref: BundleRef): boolean {
    return this.o.mounts.isMountPoint(rootfsOf(ref.dir));
  }

  writeSpec(ref: BundleRef, spec: OciSpec | object): Promise<void> {
    return writeJsonAtomic(path.join(ref.dir, 'config.json'), spec);
  }

  async readSpec(ref: BundleRef): Promise<OciSpec> {
    return JSON.parse(await fs.readFile(path.join(ref.dir, 'config.json'), 'utf8')) as OciSpec;
  }

  /**
   * Everything the bundle holds, gone: the mount, the snapshot, the cgroup,
   * the exit file and socket link, and the directory. Safe to repeat. The
   * directory stays while the rootfs is still mounted (never delete through a mount).
   */
  async remove(ref: BundleRef): Promise<void> {
    const rootfs = rootfsOf(ref.dir);
    await this.o.mounts.unmount(rootfs);
    await this.o.snapshots.removeActive(ref.snapshotKey);
    // A cgroup that is still busy (tasks being reaped) is left; it holds no resources once empty.
    await this.o.cgroups.remove(ref.cgroupsPath).catch(() => undefined);
    await fs.rm(path.join(this.o.exitDir, ref.id), { force: true });
    await fs.rm(path.join(this.o.socketDir, ref.id), { recursive: true, force: true });
    if (!this.o.mounts.isMountPoint(rootfs)) await fs.rm(ref.dir, { recursive: true, force: true });
  }
}
