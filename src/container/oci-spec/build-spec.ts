import os from 'node:os';
import path from 'node:path';

import { failedPrecondition, invalidArgument } from '../../errors.js';
import type { HostFeatures } from '../../host/features.js';
import type { ImageConfig } from '../../image/oci-types.js';
import type { SandboxRecord } from '../../sandbox/types.js';
import { apparmorFor, loadedProfiles } from '../../security/apparmor.js';
import { seccompFor } from '../../security/seccomp/seccomp-filter.js';
import { podMappings } from '../../security/user-namespace.js';
import type { ContainerConfig, IdMapping } from '../types.js';
import { specAnnotations } from './annotations.js';
import { capabilitySets, checkCapabilities } from './capabilities.js';
import { OCI_VERSION } from './defaults.js';
import { hostDevice } from './devices.js';
import { processEnv } from './env.js';
import { containerMounts } from './mounts.js';
import { namespaces } from './namespaces.js';
import type { OciDevice, OciDeviceRule, OciIdMapping, OciRlimit, OciSpec } from './oci-spec.js';
import { processArgs } from './process-args.js';
import { cgroupResources } from './resources.js';

export interface SpecInput {
  id: string;
  /** The container's root filesystem (the mounted snapshot). */
  rootfs: string;
  config: ContainerConfig;
  image: ImageConfig;
  sandbox: SandboxRecord;
  /** From resolveUser(). */
  user: { uid: number; gid: number; additionalGids: number[] };
  /** What the host allows: negative OOM scores are clamped up to the daemon's own, capabilities cut to its bounding set. */
  host: HostFeatures;
  /** The container's cgroupsPath (see bundle.ts). */
  cgroupsPath: string;
  /** /proc/<pid>/ns/pid to join for PID mode POD (the sandbox's infra) or TARGET (resolved by the caller). */
  pidNamespacePath?: string;
  /** /etc/hosts to bind if kubelet didn't mount one. */
  hostsPath?: string;
  /**
   * Rlimits to set; default none, so the process inherits conmon's (that is,
   * skiffd's), as with containerd and CRI-O. A fixed RLIMIT_NOFILE above the
   * daemon's hard limit needs CAP_SYS_RESOURCE; without it runc fails
   * "error setting rlimit type 7: operation not permitted".
   */
  rlimits?: OciRlimit[];
  /** The host's device nodes, for privileged containers (devices.ts' hostDevices). */
  hostDevices: () => OciDevice[];
  /** The runtime handler that will run it, and whether it applies "rro" mounts. */
  handler: { name: string; recursiveReadOnlyMounts: boolean };
}

/**
 * The process's supplementary groups: the primary gid too, as Docker and
 * containerd do, so that a process dropping to its gid keeps it and `id -G`
 * shows what ContainerStatus.user reports.
 */
export function processGroups(user: { gid: number; additionalGids: readonly number[] }): number[] {
  return [...new Set([user.gid, ...user.additionalGids])].sort((a, b) => a - b);
}

/** The pod's user namespace mappings, in OCI form, when it has one pinned. */
function userNamespaceMappings(
  sandbox: SandboxRecord,
): { uidMappings: OciIdMapping[]; gidMappings: OciIdMapping[] } | Record<string, never> {
  const m = podMappings(sandbox.config.namespaces);
  if (!sandbox.pins.user || !m) return {};
  const oci = (r: IdMapping): OciIdMapping[] => [{ containerID: r.containerId, hostID: r.hostId, size: r.length }];
  return { uidMappings: oci(m.uids), gidMappings: oci(m.gids) };
}

/** A CRI bind of /dev replaces the container's whole /dev: no device nodes go there. */
const devBoundByCri = (config: ContainerConfig): boolean => config.mounts.some((m) => path.posix.normalize(m.containerPath) === '/dev');

/** A working directory relative to `/` is what runc would need anyway: it requires an absolute cwd. */
const absolute = (p: string): string => path.posix.resolve('/', p);

/**
 * The OCI runtime config (config.json) of a container. Pure apart from reading
 * the host: CRI mount and device paths are resolved and stat'ed (see
 * host-path.ts); nothing is created or changed.
 *
 * Seccomp: see security/seccomp/seccomp-filter.ts (a Localhost profile file
 * is read here); AppArmor: security/apparmor.ts. SELinux labels are never applied (refused on SELinux hosts).
 */
export function buildSpec(input: SpecInput): OciSpec {
  const { config, sandbox } = input;
  const sc = config.linux.securityContext;
  if (sc.privileged && !sandbox.config.privileged) {
    throw invalidArgument(`container "${config.metadata.name}" is privileged but its pod sandbox is not`);
  }
  const img = input.image.config ?? {};

  const { mounts, rootfsPropagation } = containerMounts(
    config.mounts,
    {
      shmPath: sandbox.shmPath,
      resolvConfPath: sandbox.resolvConfPath,
      hostnamePath: sandbox.hostnamePath,
      ...(input.hostsPath ? { hostsPath: input.hostsPath } : {}),
    },
    { privileged: sc.privileged, readonlyRootfs: sc.readonlyRootfs, handler: input.handler },
  );

  // Deny every device, then allow the requested ones; runc appends its own
  // defaults (null, zero, full, random, urandom, tty, console, ptmx, pts).
  // Privileged containers may use any device, and get the host's device
  // nodes in their /dev (the requested ones win where both name a path).
  const devices = config.devices.map(hostDevice);
  const requested = new Set(devices.map((d) => d.node.path));
  const privilegedNodes = sc.privileged && !devBoundByCri(config) ? input.hostDevices().filter((n) => !requested.has(n.path)) : [];
  const deviceRules: OciDeviceRule[] = sc.privileged
    ? [{ allow: true, access: 'rwm' }]
    : [{ allow: false, access: 'rwm' }, ...devices.map((d) => d.rule)];

  // No SELinux support: where SELinux is on, a label or relabel asked for cannot be honoured.
  if (input.host.selinux && (sc.selinuxLabel || config.mounts.some((m) => m.selinuxRelabel)))
    throw failedPrecondition('SELinux labels were asked for, but Skiff applies none and SELinux is enabled on this host');
  if (!sc.privileged) checkCapabilities(sc.capabilities, input.host.boundingCaps);
  const capabilities = capabilitySets(sc.capabilities, sc.privileged, input.host.boundingCaps);
  const seccomp = seccompFor(sc.seccomp, sc.privileged, capabilities.effective);
  const apparmorProfile = apparmorFor(sc.apparmor, sc.privileged, { enabled: input.host.apparmor, loaded: () => loadedProfiles() });
  const oomScoreAdj = Math.min(1000, Math.max(config.linux.resources.oomScoreAdj, input.host.ownOomScoreAdj, -1000));

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: config.tty,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: processGroups(input.user) },
      args: processArgs(config.command, config.args, img.Entrypoint, img.Cmd),
      env: processEnv(sandbox.config.hostname || os.hostname(), img.Env, config.envs),
      cwd: absolute(config.workingDir || img.WorkingDir || '/'),
      capabilities,
      ...(input.rlimits ? { rlimits: input.rlimits.map((r) => ({ ...r })) } : {}),
      noNewPrivileges: sc.noNewPrivs,
      ...(apparmorProfile ? { apparmorProfile } : {}),
      oomScoreAdj,
    },
    root: { path: input.rootfs, readonly: sc.readonlyRootfs },
    mounts,
    annotations: specAnnotations(config, sandbox),
    linux: {
      namespaces: namespaces({
        pins: sandbox.pins,
        pidMode: sc.namespaceOptions.pid,
        pidNamespacePath: input.pidNamespacePath,
        cgroupV2: input.host.cgroup.cgroupV2,
        privileged: sc.privileged,
      }),
      ...userNamespaceMappings(sandbox),
      cgroupsPath: input.cgroupsPath,
      resources: {
        devices: deviceRules,
        ...cgroupResources(config.linux.resources, input.host.cgroup),
      },
      devices: [...privilegedNodes, ...devices.map((d) => d.node)],
      // As sent: kubelet sends the defaults, or nothing for procMount Unmasked.
      maskedPaths: sc.privileged ? [] : [...sc.maskedPaths],
      readonlyPaths: sc.privileged ? [] : [...sc.readonlyPaths],
      ...(rootfsPropagation ? { rootfsPropagation } : {}),
      ...(seccomp ? { seccomp } : {}),
      // No sysctls: the pod's are set once in its pinned namespaces.
    },
  };
}
