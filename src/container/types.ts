// The container domain: what a container asks for, as far as Skiff uses the
// CRI ContainerConfig. No proto types here (server/container-config.ts maps
// them); every value is plain JSON so the config can be persisted in a record.
//
// Numbers that are 0 mean "not set", as in CRI (kubelet never sends a 0 limit
// that it means literally); the optional ones are those where 0 is a real value.

import type { NamespaceMode } from '../sandbox/types.js';

export type MountPropagation = 'private' | 'hostToContainer' | 'bidirectional';

export interface ContainerMount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  /** Skiff applies no SELinux labels: refused on an SELinux host, meaningless elsewhere. */
  selinuxRelabel: boolean;
  propagation: MountPropagation;
  /** Read-only all the way down (submounts too); needs readonly and private propagation. */
  recursiveReadOnly: boolean;
  /** An idmapped mount asked for explicitly (CRI uid/gid_mappings); only a user-namespaced pod's own mapping can be applied. */
  idmap?: { uids: IdMapping[]; gids: IdMapping[] };
}

export interface ContainerDevice {
  containerPath: string;
  hostPath: string;
  /** cgroup device access, a subset of "rwm". */
  permissions: string;
}

export interface HugepageLimit {
  /** e.g. "2MB", "1GB" (the cgroup file's spelling). */
  pageSize: string;
  limit: number;
}

export interface ContainerResources {
  cpuPeriod: number;
  cpuQuota: number;
  cpuShares: number;
  memoryLimitInBytes: number;
  oomScoreAdj: number;
  cpusetCpus: string;
  cpusetMems: string;
  hugepageLimits: HugepageLimit[];
  /** cgroup v2 files and values. */
  unified: Record<string, string>;
  memorySwapLimitInBytes: number;
}

export type SecurityProfileType = 'RuntimeDefault' | 'Unconfined' | 'Localhost';

export interface SecurityProfile {
  type: SecurityProfileType;
  /** For Localhost: the profile's path or name. */
  localhostRef: string;
}

export interface ContainerCapabilities {
  /** Names as kubelet sends them ("NET_ADMIN", or "ALL"); CAP_ prefix optional. */
  add: string[];
  drop: string[];
  addAmbient?: string[];
}

export interface ContainerNamespaces {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
  /** Container id whose PID namespace to join when pid is TARGET. */
  targetId: string;
  /** A user namespace for the pod (hostUsers: false); absent means the host's. */
  userNamespace?: UserNamespaceRequest;
}

/** One contiguous range of ids: container_id..+length maps to host_id..+length. */
export interface IdMapping {
  containerId: number;
  hostId: number;
  length: number;
}

/** CRI UserNamespace: mode NODE (the host's) or POD (one per pod, with these mappings). */
export interface UserNamespaceRequest {
  mode: NamespaceMode;
  uids: IdMapping[];
  gids: IdMapping[];
}

/** Merge: the image's /etc/group memberships are added; Strict: only the CRI's list. */
export type SupplementalGroupsPolicy = 'Merge' | 'Strict';

export interface ContainerSecurityContext {
  capabilities: ContainerCapabilities;
  privileged: boolean;
  namespaceOptions: ContainerNamespaces;
  runAsUser?: number;
  runAsGroup?: number;
  runAsUsername: string;
  readonlyRootfs: boolean;
  supplementalGroups: number[];
  supplementalGroupsPolicy: SupplementalGroupsPolicy;
  noNewPrivs: boolean;
  /**
   * Applied as sent: kubelet always sends the defaults and an empty list for
   * procMount Unmasked (the wire cannot tell empty from unset).
   */
  maskedPaths: string[];
  readonlyPaths: string[];
  seccomp?: SecurityProfile;
  /** Applied where the host has AppArmor (see security/apparmor). */
  apparmor?: SecurityProfile;
  /** An SELinux label was asked for (any selinux_options field set). */
  selinuxLabel?: boolean;
}

export interface ContainerMetadata {
  name: string;
  attempt: number;
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  /** The image as kubelet sent it (CRI ImageSpec.image: usually the image id). */
  image: string;
  /** The image as the pod spec named it (ImageSpec.user_specified_image); reported back as given. */
  userSpecifiedImage: string;
  /** ImageSpec annotations and runtime handler, reported back as given. */
  imageAnnotations: Record<string, string>;
  imageRuntimeHandler: string;
  command: string[];
  args: string[];
  workingDir: string;
  envs: { key: string; value: string }[];
  mounts: ContainerMount[];
  devices: ContainerDevice[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Relative to the sandbox's log directory. */
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  linux: {
    resources: ContainerResources;
    securityContext: ContainerSecurityContext;
  };
}
