import { failedPrecondition, invalidArgument } from '../../errors.js';
import type { ContainerMount, MountPropagation } from '../types.js';
import { cleanContainerPath, resolveHostPath } from './host-path.js';
import type { OciMount, OciPropagation } from './oci-spec.js';

/**
 * The kernel filesystems every container gets (runc's own defaults), minus the
 * /dev/shm tmpfs: containers share the pod's /dev/shm instead. /sys and
 * /sys/fs/cgroup are read-only unless privileged, as Docker always did.
 */
export function systemMounts(privileged: boolean): OciMount[] {
  const rw = privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', rw] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', rw] },
  ];
}

const PROPAGATION: Record<MountPropagation, OciPropagation> = {
  private: 'rprivate',
  hostToContainer: 'rslave',
  bidirectional: 'rshared',
};

/** The pod's files every container binds (unless the CRI request binds its own). */
export interface PodFiles {
  shmPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  /** Only when kubelet does not manage /etc/hosts itself. */
  hostsPath?: string;
}

/** A bind mount as the runtime builds it, before it becomes an OciMount. */
interface Bind {
  destination: string;
  source: string;
  options: string[];
}

function criBind(m: ContainerMount, handler: { name: string; recursiveReadOnlyMounts: boolean }): Bind {
  const what = `mount ${m.containerPath}`;
  const destination = cleanContainerPath(m.containerPath, what);
  if (m.recursiveReadOnly && !m.readonly) throw invalidArgument(`${what}: recursive read-only needs readonly`);
  if (m.recursiveReadOnly && m.propagation !== 'private') throw invalidArgument(`${what}: recursive read-only needs private propagation`);
  if (m.recursiveReadOnly && !handler.recursiveReadOnlyMounts)
    throw failedPrecondition(`${what}: runtime handler "${handler.name}" cannot make recursive read-only mounts`);
  const source = resolveHostPath(m.hostPath, what);
  const options = ['rbind', PROPAGATION[m.propagation], m.readonly ? 'ro' : 'rw'];
  // The runtime applies "rro" with mount_setattr(AT_RECURSIVE) after the bind.
  if (m.recursiveReadOnly) options.push('rro');
  return { destination, source, options };
}

/** Number of path components: shallower binds go first so that deeper ones are not hidden. */
const depth = (p: string): number => (p === '/' ? 0 : p.split('/').length - 1);

export interface ContainerMounts {
  mounts: OciMount[];
  /** Set when a bind needs propagation into or out of the container. */
  rootfsPropagation?: OciPropagation;
}

/**
 * All mounts of the container: kernel filesystems, the pod's files, the CRI
 * binds. A CRI bind replaces a default one with the same destination, and a CRI
 * bind of /dev replaces everything runc would mount under /dev.
 */
export function containerMounts(
  criMounts: readonly ContainerMount[],
  pod: PodFiles,
  opts: { privileged: boolean; readonlyRootfs: boolean; handler: { name: string; recursiveReadOnlyMounts: boolean } },
): ContainerMounts {
  const cri = criMounts.map((m) => criBind(m, opts.handler));
  const taken = new Set(cri.map((b) => b.destination));
  const devBound = taken.has('/dev');

  // The pod's files are read-only when the rootfs is: the container asked not to write its /etc.
  const podRo = opts.readonlyRootfs ? 'ro' : 'rw';
  const podBinds: Bind[] = [
    { destination: '/dev/shm', source: pod.shmPath, options: ['rbind', 'rprivate', 'rw'] },
    { destination: '/etc/resolv.conf', source: pod.resolvConfPath, options: ['rbind', 'rprivate', podRo] },
    { destination: '/etc/hostname', source: pod.hostnamePath, options: ['rbind', 'rprivate', podRo] },
    ...(pod.hostsPath ? [{ destination: '/etc/hosts', source: pod.hostsPath, options: ['rbind', 'rprivate', podRo] }] : []),
  ].filter((b) => b.source !== '' && !taken.has(b.destination) && !(devBound && b.destination.startsWith('/dev/')));

  const system = systemMounts(opts.privileged).filter((m) => !taken.has(m.destination) && !(devBound && m.destination.startsWith('/dev/')));
  // Stable sort: among equal depths the pod's files come first, then the CRI order.
  const binds = [...podBinds, ...cri].sort((a, b) => depth(a.destination) - depth(b.destination));
  const mounts: OciMount[] = [...system, ...binds.map((b) => ({ ...b, type: 'bind' }))];

  // The container's root must propagate too, or its binds' events stop at it.
  let rootfsPropagation: OciPropagation | undefined;
  if (criMounts.some((m) => m.propagation === 'bidirectional')) rootfsPropagation = 'rshared';
  else if (criMounts.some((m) => m.propagation === 'hostToContainer')) rootfsPropagation = 'rslave';
  return rootfsPropagation ? { mounts, rootfsPropagation } : { mounts };
}

export interface HostPropagationNeed {
  /** The resolved host path. */
  path: string;
  /** bidirectional needs the host mount shared; hostToContainer shared or slave. */
  mode: 'shared' | 'slave';
}

/**
 * Host paths whose mount must propagate for the CRI binds to work, for the
 * caller to check or fix (`mount --make-shared`) before starting: the spec
 * cannot make the host side shared.
 */
export function requiresHostPropagation(criMounts: readonly ContainerMount[]): HostPropagationNeed[] {
  const needs: HostPropagationNeed[] = [];
  for (const m of criMounts) {
    if (m.propagation === 'private') continue;
    needs.push({
      path: resolveHostPath(m.hostPath, `mount ${m.containerPath}`),
      mode: m.propagation === 'bidirectional' ? 'shared' : 'slave',
    });
  }
  return needs;
}
