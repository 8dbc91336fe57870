// The sandbox domain: what a pod asks for (from the CRI config) and what Skiff
// records about it. No proto types here; server/ maps them.

import type { SecurityProfile, UserNamespaceRequest } from '../container/types.js';

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type SandboxState = 'creating' | 'ready' | 'notready';

export interface PortMapping {
  protocol: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface SandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface SandboxConfig {
  metadata: SandboxMetadata;
  hostname: string;
  logDirectory: string;
  dns: DnsConfig | undefined;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  cgroupParent: string;
  sysctls: Record<string, string>;
  namespaces: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId: string; userNamespace?: UserNamespaceRequest };
  privileged: boolean;
  /** The pod's seccomp and AppArmor profiles (for its infra container); unset means none. */
  seccomp?: SecurityProfile;
  apparmor?: SecurityProfile;
  runtimeHandler: string;
}

/** Pinned namespace files; absent when the pod uses the host's namespace. */
export interface NamespacePins {
  net?: string;
  uts?: string;
  ipc?: string;
  /** A user-namespaced pod's user namespace, which owns its net, UTS and IPC namespaces. */
  user?: string;
}

export interface InfraProcess {
  containerId: string;
  pid: number;
  conmonPid: number;
  /**
   * The infra's PID namespace, bind-mounted: containers join this, never
   * /proc/<pid>, so a reused pid cannot lead them into another process's
   * namespace (a pinned namespace whose init died takes no new processes).
   */
  pidNamespace?: string;
}

/** What changes over a pod's life; replaced as a whole (RecordStore.update). */
export interface SandboxStatusFields {
  readonly state: SandboxState;
  readonly ips: readonly string[];
  /** Host end of the pod's veth (its counters are the pod's network stats). */
  readonly hostVeth?: string;
  /** CNI ADD was attempted: DEL must run before the record goes. */
  readonly cniAttempted: boolean;
  readonly infra?: InfraProcess;
  /** Overhead and total resources from UpdatePodSandboxResources, as sent. */
  readonly podResources?: { overhead: unknown; resources: unknown };
}

export const SANDBOX_RECORD_VERSION = 1;

/** What Skiff records about a pod sandbox. Fixed at create, apart from `status`. */
export interface SandboxRecord {
  readonly version: typeof SANDBOX_RECORD_VERSION;
  readonly id: string;
  /** <name>_<namespace>_<uid>_<attempt>: unique among live sandboxes. */
  readonly name: string;
  readonly config: SandboxConfig;
  /** Nanoseconds since the epoch, as a decimal string. */
  readonly createdAt: string;
  readonly runtimeHandler: string;
  /** Per-pod files: resolv.conf, hostname, hosts, shm mount. */
  readonly dir: string;
  readonly pins: NamespacePins;
  /** Where containers mount /dev/shm from. */
  readonly shmPath: string;
  readonly resolvConfPath: string;
  readonly hostnamePath: string;
  /** Default /etc/hosts for containers when kubelet mounts none ('' for pods made before it existed). */
  readonly hostsPath: string;
  /** cgroupfs path containers go under. */
  readonly cgroupParent: string;
  /** Levels of cgroupParent that did not exist before the pod: removed with it when empty. */
  readonly ownedCgroups: readonly string[];
  readonly status: SandboxStatusFields;
}
