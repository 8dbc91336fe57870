// The sandbox domain: what a pod asks for (from the CRI config) and what Skiff
// records about it. No proto types here; server/ maps them.

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
  namespaces: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId: string };
  privileged: boolean;
  runtimeHandler: string;
}

/** Pinned namespace files; absent when the pod uses the host's namespace. */
export interface NamespacePins {
  net?: string;
  uts?: string;
  ipc?: string;
}

export interface InfraProcess {
  containerId: string;
  pid: number;
  conmonPid: number;
}

export interface SandboxRecord {
  id: string;
  /** <name>_<namespace>_<uid>_<attempt>: unique among live sandboxes. */
  name: string;
  config: SandboxConfig;
  state: SandboxState;
  /** Nanoseconds since the epoch, as a decimal string. */
  createdAt: string;
  runtimeHandler: string;
  /** Per-pod files: resolv.conf, hostname, shm mount. */
  dir: string;
  pins: NamespacePins;
  /** Where containers mount /dev/shm from. */
  shmPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  /** Default /etc/hosts for containers when kubelet mounts none (absent in old records). */
  hostsPath?: string;
  /** cgroupfs path containers go under. */
  cgroupParent: string;
  /** Levels of cgroupParent that did not exist before the pod: removed with it when empty. */
  ownedCgroups?: string[];
  ips: string[];
  /** Host end of the pod's veth (its counters are the pod's network stats). */
  hostVeth?: string;
  /** CNI ADD was attempted: DEL must run before the record goes. */
  cniAttempted: boolean;
  infra?: InfraProcess;
  /** Overhead and total resources from UpdatePodSandboxResources, as sent. */
  podResources?: { overhead: unknown; resources: unknown };
}
