import { lstatSync, readdirSync, statSync } from 'node:fs';

import { errnoCode, invalidArgument, SkiffError } from '../../errors.js';
import type { ContainerDevice } from '../types.js';
import { cleanContainerPath, resolveHostPath } from './host-path.js';
import type { OciDevice, OciDeviceRule } from './oci-spec.js';

/** glibc's major()/minor() for a 64-bit dev_t. */
export function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
export function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

/**
 * A CRI device: the node runc creates in the container (type and numbers read
 * from the host node, mode and owner too) and the devices-cgroup rule that
 * lets the container use it with the requested permissions.
 */
export function hostDevice(d: ContainerDevice): { node: OciDevice; rule: OciDeviceRule } {
  const what = `device ${d.containerPath}`;
  const path = cleanContainerPath(d.containerPath, what);
  const access = d.permissions === '' ? 'rwm' : d.permissions;
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length)
    throw invalidArgument(`${what}: permissions "${d.permissions}" must be letters of "rwm"`);
  const source = resolveHostPath(d.hostPath, what);
  let st;
  try {
    st = statSync(source, { bigint: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw invalidArgument(`${what}: host path "${d.hostPath}" does not exist`);
    throw new SkiffError('Internal', `${what}: stat ${source}: ${(err as Error).message}`, { cause: err });
  }
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) throw invalidArgument(`${what}: host path "${d.hostPath}" is not a device node`);
  const major = devMajor(st.rdev);
  const minor = devMinor(st.rdev);
  return {
    node: { type, path, major, minor, fileMode: Number(st.mode & 0o777n), uid: Number(st.uid), gid: Number(st.gid) },
    rule: { allow: true, type, major, minor, access },
  };
}

/** Under /dev, what is not the host's devices: other mounts' contents and the host's console. */
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
const SKIP_FILES = new Set(['console']);

/**
 * Every device node under the host's /dev (subdirectories included, symlinks
 * not followed), as a privileged container gets them, containerd's and
 * Docker's way. Nodes that vanish while the walk runs are skipped.
 */
export function hostDevices(root = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  const walk = (dir: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const abs = `${dir}/${name}`;
      let st;
      try {
        st = lstatSync(abs, { bigint: true });
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(abs, `${rel}/${name}`);
        continue;
      }
      if (SKIP_FILES.has(name) && rel === '/dev') continue;
      const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
      if (!type) continue;
      out.push({
        type,
        path: `${rel}/${name}`,
        major: devMajor(st.rdev),
        minor: devMinor(st.rdev),
        fileMode: Number(st.mode & 0o777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
      });
    }
  };
  walk(root, '/dev');
  return out;
}
