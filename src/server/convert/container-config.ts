// CRI ContainerConfig (generated proto types) ↔ the container domain types.
// int64 fields arrive as decimal strings and become numbers; enums arrive as
// their names.

import type {
  ContainerConfig,
  ContainerResources,
  SecurityProfile,
  SupplementalGroupsPolicy,
  UserNamespaceRequest,
} from '../../container/types.js';
import { invalidArgument } from '../../errors.js';
import type { ContainerConfig__Output } from '../../generated/runtime/v1/ContainerConfig.js';
import type { LinuxContainerResources, LinuxContainerResources__Output } from '../../generated/runtime/v1/LinuxContainerResources.js';
import type { SecurityProfile__Output } from '../../generated/runtime/v1/SecurityProfile.js';
import type { UserNamespace__Output } from '../../generated/runtime/v1/UserNamespace.js';
import type { NamespaceMode } from '../../sandbox/types.js';
import { FROM_PROTO_PROPAGATION } from './common.js';

/** An int64 field as a JS number; past 2^53 precision would silently go, so refuse. */
function int64(value: string | undefined, field: string): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${field}: ${value} is not an integer JS can hold exactly`);
  return n;
}

/** Proto3's 0 value (Merge) when unset. */
export function groupsPolicy(p: string | number | undefined, field: string): SupplementalGroupsPolicy {
  if (p === undefined || p === 'Merge' || p === 0) return 'Merge';
  if (p === 'Strict' || p === 1) return 'Strict';
  throw invalidArgument(`${field}: unknown policy ${String(p)}`);
}

const NAMESPACE_MODES = new Set<string>(['POD', 'CONTAINER', 'NODE', 'TARGET']);
// Proto3 enums default to their 0 value: an unset mode is POD.
const mode = (m: string | undefined): NamespaceMode => (m && NAMESPACE_MODES.has(m) ? (m as NamespaceMode) : 'POD');

/**
 * A security profile from the structured field, or else from the deprecated
 * path field ("runtime/default", "docker/default", "unconfined",
 * "localhost/<path>"), which older kubelets and crictl still send.
 */
export function securityProfile(p: SecurityProfile__Output | null | undefined, legacy: string, field: string): SecurityProfile | undefined {
  if (p) {
    const type = p.profileType;
    if (type !== 'RuntimeDefault' && type !== 'Unconfined' && type !== 'Localhost')
      throw invalidArgument(`${field}: unknown profile type ${String(type)}`);
    if (type !== 'Localhost' && p.localhostRef !== '') throw invalidArgument(`${field}: localhost_ref is only for profile type Localhost`);
    if (type === 'Localhost' && p.localhostRef === '') throw invalidArgument(`${field}: profile type Localhost needs localhost_ref`);
    return { type, localhostRef: p.localhostRef };
  }
  if (legacy === '') return undefined;
  if (legacy === 'runtime/default' || legacy === 'docker/default') return { type: 'RuntimeDefault', localhostRef: '' };
  if (legacy === 'unconfined') return { type: 'Unconfined', localhostRef: '' };
  if (legacy.startsWith('localhost/') && legacy.length > 'localhost/'.length)
    return { type: 'Localhost', localhostRef: legacy.slice('localhost/'.length) };
  throw invalidArgument(`${field}: invalid profile "${legacy}"`);
}

/** CRI UserNamespace → the domain's request; unset means the host's. An unknown mode is kept for the check to name. */
export function userNamespace(u: UserNamespace__Output | null | undefined): UserNamespaceRequest | undefined {
  if (!u) return undefined;
  const ids = (l: UserNamespace__Output['uids']) => l.map((m) => ({ containerId: m.containerId, hostId: m.hostId, length: m.length }));
  return { mode: mode(u.mode), uids: ids(u.uids), gids: ids(u.gids) };
}

export function toContainerResources(r: LinuxContainerResources__Output | null | undefined): ContainerResources {
  const f = 'linux.resources';
  return {
    cpuPeriod: int64(r?.cpuPeriod, `${f}.cpu_period`),
    cpuQuota: int64(r?.cpuQuota, `${f}.cpu_quota`),
    cpuShares: int64(r?.cpuShares, `${f}.cpu_shares`),
    memoryLimitInBytes: int64(r?.memoryLimitInBytes, `${f}.memory_limit_in_bytes`),
    oomScoreAdj: int64(r?.oomScoreAdj, `${f}.oom_score_adj`),
    cpusetCpus: r?.cpusetCpus ?? '',
    cpusetMems: r?.cpusetMems ?? '',
    hugepageLimits: (r?.hugepageLimits ?? []).map((h) => ({ pageSize: h.pageSize, limit: int64(h.limit, `${f}.hugepage_limits.limit`) })),
    unified: { ...(r?.unified ?? {}) },
    memorySwapLimitInBytes: int64(r?.memorySwapLimitInBytes, `${f}.memory_swap_limit_in_bytes`),
  };
}

/** CRI ContainerConfig → the domain's ContainerConfig. */
export function toContainerConfig(c: ContainerConfig__Output | null): ContainerConfig {
  if (!c) throw invalidArgument('config is required');
  if (!c.metadata?.name) throw invalidArgument('config.metadata.name is required');
  const sc = c.linux?.securityContext;
  const caps = sc?.capabilities;
  const ns = sc?.namespaceOptions;
  const runAsUser = sc?.runAsUser ? int64(sc.runAsUser.value, 'run_as_user') : undefined;
  const runAsGroup = sc?.runAsGroup ? int64(sc.runAsGroup.value, 'run_as_group') : undefined;
  const seccomp = securityProfile(sc?.seccomp, sc?.seccompProfilePath ?? '', 'seccomp');
  const apparmor = securityProfile(sc?.apparmor, sc?.apparmorProfile ?? '', 'apparmor');
  const userns = userNamespace(ns?.usernsOptions);
  return {
    metadata: { name: c.metadata.name, attempt: c.metadata.attempt },
    image: c.image?.image ?? '',
    userSpecifiedImage: c.image?.userSpecifiedImage ?? '',
    imageAnnotations: { ...c.image?.annotations },
    imageRuntimeHandler: c.image?.runtimeHandler ?? '',
    command: [...c.command],
    args: [...c.args],
    workingDir: c.workingDir,
    envs: c.envs.map((e) => ({ key: e.key, value: Buffer.isBuffer(e.value) ? e.value.toString('utf8') : String(e.value ?? '') })),
    mounts: c.mounts.map((m) => {
      const propagation = FROM_PROTO_PROPAGATION[m.propagation];
      if (!propagation) throw invalidArgument(`mount ${m.containerPath}: unknown propagation ${String(m.propagation)}`);
      const ids = (l: typeof m.uidMappings) => l.map((x) => ({ containerId: x.containerId, hostId: x.hostId, length: x.length }));
      const idmap = m.uidMappings.length || m.gidMappings.length ? { idmap: { uids: ids(m.uidMappings), gids: ids(m.gidMappings) } } : {};
      if (m.image?.image) throw invalidArgument(`mount ${m.containerPath}: image volumes are not supported`);
      return {
        containerPath: m.containerPath,
        hostPath: m.hostPath,
        readonly: m.readonly,
        selinuxRelabel: m.selinuxRelabel,
        propagation,
        recursiveReadOnly: m.recursiveReadOnly,
        ...idmap,
      };
    }),
    devices: c.devices.map((d) => ({ containerPath: d.containerPath, hostPath: d.hostPath, permissions: d.permissions })),
    labels: { ...c.labels },
    annotations: { ...c.annotations },
    logPath: c.logPath,
    stdin: c.stdin,
    stdinOnce: c.stdinOnce,
    tty: c.tty,
    linux: {
      resources: toContainerResources(c.linux?.resources),
      securityContext: {
        capabilities: {
          add: [...(caps?.addCapabilities ?? [])],
          drop: [...(caps?.dropCapabilities ?? [])],
          addAmbient: [...(caps?.addAmbientCapabilities ?? [])],
        },
        privileged: sc?.privileged ?? false,
        namespaceOptions: {
          network: mode(ns?.network),
          pid: mode(ns?.pid),
          ipc: mode(ns?.ipc),
          targetId: ns?.targetId ?? '',
          ...(userns ? { userNamespace: userns } : {}),
        },
        ...(runAsUser !== undefined ? { runAsUser } : {}),
        ...(runAsGroup !== undefined ? { runAsGroup } : {}),
        runAsUsername: sc?.runAsUsername ?? '',
        readonlyRootfs: sc?.readonlyRootfs ?? false,
        supplementalGroups: (sc?.supplementalGroups ?? []).map((g) => int64(g, 'supplemental_groups')),
        supplementalGroupsPolicy: groupsPolicy(sc?.supplementalGroupsPolicy, 'supplemental_groups_policy'),
        noNewPrivs: sc?.noNewPrivs ?? false,
        maskedPaths: [...(sc?.maskedPaths ?? [])],
        readonlyPaths: [...(sc?.readonlyPaths ?? [])],
        ...(seccomp ? { seccomp } : {}),
        ...(apparmor ? { apparmor } : {}),
        ...(sc?.selinuxOptions && Object.values(sc.selinuxOptions).some((v) => v !== '') ? { selinuxLabel: true } : {}),
      },
    },
  };
}

/** Domain resources → the CRI shape (ContainerStatus.resources.linux); int64s go back as decimal strings. */
export function toProtoResources(r: ContainerResources): LinuxContainerResources {
  return {
    cpuPeriod: String(r.cpuPeriod),
    cpuQuota: String(r.cpuQuota),
    cpuShares: String(r.cpuShares),
    memoryLimitInBytes: String(r.memoryLimitInBytes),
    oomScoreAdj: String(r.oomScoreAdj),
    cpusetCpus: r.cpusetCpus,
    cpusetMems: r.cpusetMems,
    hugepageLimits: r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: String(h.limit) })),
    unified: { ...r.unified },
    memorySwapLimitInBytes: String(r.memorySwapLimitInBytes),
  };
}
