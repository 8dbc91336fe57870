import { failedPrecondition } from '../../errors.js';
import type { NamespaceMode, NamespacePins } from '../../sandbox/types.js';
import type { OciNamespace } from './oci-spec.js';

export interface NamespaceInput {
  pins: NamespacePins;
  pidMode: NamespaceMode;
  /** /proc/<pid>/ns/pid of the process to share with (POD: the infra; TARGET: the target container). */
  pidNamespacePath: string | undefined;
  cgroupV2: boolean;
  privileged: boolean;
}

/**
 * The container's namespaces. Network, IPC and UTS are the pod's pinned ones,
 * joined by path; a namespace the pod does not pin is the host's (so the entry
 * is left out). The container never sets `hostname`: the pod's UTS namespace
 * already carries it, and runc refuses a hostname without a UTS namespace of
 * its own. PID follows the CRI mode; a mount namespace is always new.
 */
export function namespaces(n: NamespaceInput): OciNamespace[] {
  const out: OciNamespace[] = [{ type: 'mount' }];
  switch (n.pidMode) {
    case 'CONTAINER':
      out.push({ type: 'pid' });
      break;
    case 'POD':
    case 'TARGET':
      if (!n.pidNamespacePath)
        throw failedPrecondition(`PID namespace mode ${n.pidMode} needs a process to share it with, and there is none`);
      out.push({ type: 'pid', path: n.pidNamespacePath });
      break;
    case 'NODE':
      break;
  }
  // A user-namespaced pod's containers join its user namespace, which owns the pod's others.
  if (n.pins.user) out.push({ type: 'user', path: n.pins.user });
  if (n.pins.net) out.push({ type: 'network', path: n.pins.net });
  if (n.pins.ipc) out.push({ type: 'ipc', path: n.pins.ipc });
  if (n.pins.uts) out.push({ type: 'uts', path: n.pins.uts });
  // A cgroup namespace hides the host's hierarchy on v2; on v1 (and for
  // privileged containers) it is not used, as with containerd and CRI-O.
  if (n.cgroupV2 && !n.privileged) out.push({ type: 'cgroup' });
  return out;
}
