// An OCI bundle on disk: the directory runc and conmon are pointed at, with
// the rootfs (an overlay of an active snapshot on the image's layers), the
// config.json, and what conmon leaves beside it. Containers and the infra
// container both go through here.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { HostMounts } from '../host/mount.js';
import { privateDir } from '../host/private-dir.js';
import type { UserNamespaceOps } from '../host/userns.js';
import type { CgroupOps } from '../runtime/oci-runtime.js';
import type { SandboxRecord } from '../sandbox/types.js';
import { podMappings } from '../security/user-namespace.js';
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

/** Under a bundle: the idmapped image layers and volume sources of a user-namespaced pod's container. */
const IDMAPPED_LAYERS = 'l';
export const IDMAPPED_VOLUMES = 'v';

/** A user-namespaced pod's user namespace pin and the host ids of its root. */
export interface RootfsIdmap {
  userPin: string;
  uid: number;
  gid: number;
}

/** The user namespace pin and host ids of a user-namespaced pod's root; undefined for other pods. */
export function podRootfsIdmap(sandbox: SandboxRecord): RootfsIdmap | undefined {
  const m = podMappings(sandbox.config.namespaces);
  if (!sandbox.pins.user || !m) return undefined;
  return { userPin: sandbox.pins.user, uid: m.uids.hostId, gid: m.gids.hostId };
}

export class Bundles {
  constructor(
    private readonly o: {
      snapshots: SnapshotOps;
      mounts: HostMounts;
      /** Idmapped mounts, for containers of user-namespaced pods. */
      userns: Pick<UserNamespaceOps, 'idmap'>;
      cgroups: CgroupOps;
      /** conmon's exit files (one per container id). */
      exitDir: string;
      /** conmon's attach socket links (one per container id). */
      socketDir: string;
    },
  ) {}

  /**
   * Creates the bundle dir and mounts a fresh writable layer over
   * `parentChainId` at its rootfs. For a user-namespaced pod (`idmap`), each
   * image layer is first mounted idmapped with the pod's user namespace (the
   * image's root-owned files then belong to the pod's root) and the writable
   * layer belongs to the pod's root, so what the container writes is stored
   * under its host ids.
   */
  async mountRootfs(ref: BundleRef, parentChainId: string, idmap?: RootfsIdmap): Promise<void> {
    const rootfs = rootfsOf(ref.dir);
    await privateDir(ref.dir, idmap?.gid);
    await fs.mkdir(rootfs, { recursive: true, mode: 0o755 });
    const { options, layers } = await this.o.snapshots.prepareActive(ref.snapshotKey, parentChainId);
    // nodev: a device node in an image is never opened through it, neither by
    // Skiff reading the image's /etc files nor by the container (its /dev is a tmpfs).
    if (!idmap) {
      await this.o.mounts.mountOverlay(rootfs, `nodev,${options}`);
      return;
    }
    const lowers: string[] = [];
    for (const [i, lower] of layers.lowers.entries()) {
      const target = path.join(ref.dir, IDMAPPED_LAYERS, String(i));
      await fs.mkdir(target, { recursive: true, mode: 0o700 });
      await this.o.userns.idmap(idmap.userPin, lower, target);
      lowers.push(target);
    }
    await fs.chown(layers.upper, idmap.uid, idmap.gid);
    await this.o.mounts.mountOverlay(rootfs, `nodev,lowerdir=${lowers.join(':')},upperdir=${layers.upper},workdir=${layers.work}`);
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
    await this.unmountUnder(path.join(ref.dir, IDMAPPED_LAYERS));
    await this.unmountUnder(path.join(ref.dir, IDMAPPED_VOLUMES));
    await this.o.snapshots.removeActive(ref.snapshotKey);
    // A cgroup that is still busy (tasks being reaped) is left; it holds no resources once empty.
    await this.o.cgroups.remove(ref.cgroupsPath).catch(() => undefined);
    await fs.rm(path.join(this.o.exitDir, ref.id), { force: true });
    await fs.rm(path.join(this.o.socketDir, ref.id), { recursive: true, force: true });
    if (!this.o.mounts.isMountPoint(rootfs)) await fs.rm(ref.dir, { recursive: true, force: true });
  }

  /**
   * A CRI mount's host path as an idmapped mount under the bundle, for a
   * user-namespaced pod: the bind source the spec then uses.
   */
  async idmapVolume(ref: BundleRef, index: number, hostPath: string, idmap: RootfsIdmap): Promise<string> {
    const target = path.join(ref.dir, IDMAPPED_VOLUMES, String(index));
    // runc binds it from inside the user namespace: the pod's root must pass through.
    await privateDir(path.dirname(target), idmap.gid);
    if ((await fs.stat(hostPath)).isDirectory()) await fs.mkdir(target, { mode: 0o700 });
    else await fs.writeFile(target, '', { mode: 0o600 });
    await this.o.userns.idmap(idmap.userPin, hostPath, target);
    return target;
  }

  private async unmountUnder(dir: string): Promise<void> {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const n of names) await this.o.mounts.unmount(path.join(dir, n));
  }
}
