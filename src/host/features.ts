// What the host lets a container runtime do, probed once when the daemon
// starts and passed to whoever builds specs or applies limits. Nothing here
// assumes a particular machine: every value comes from the running kernel.
import { existsSync, promises as fs } from 'node:fs';

export interface CgroupFeatures {
  /** The unified hierarchy is the only one: `unified` resources and a cgroup namespace apply. */
  readonly cgroupV2: boolean;
  /** memory.memsw.* exists (v1) or memory.swap.max (v2). */
  readonly swapAccounting: boolean;
  /**
   * runc can set hugetlb limits: with v2, or with a v1 hugetlb controller.
   * On a hybrid host whose hugetlb sits on cgroup2, runc's v1 manager fails on any hugepage limit.
   */
  readonly hugetlb: boolean;
}

export interface HostFeatures {
  readonly cgroup: CgroupFeatures;
  /** Capability names (CAP_*) in the daemon's bounding set: a container cannot get others. */
  readonly boundingCaps: readonly string[];
  /** The daemon's own oom_score_adj: without CAP_SYS_RESOURCE nothing below it can be set. */
  readonly ownOomScoreAdj: number;
  /** AppArmor is enabled in the kernel (securityfs shows it): profiles can be applied. */
  readonly apparmor: boolean;
  /** SELinux is enabled (selinuxfs is mounted): labels would matter, and Skiff applies none. */
  readonly selinux: boolean;
}

/** Capability names by bit number (linux/capability.h). */
export const CAP_NAMES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** The names of the bits set in a /proc/<pid>/status capability mask (hex). */
export function capabilityNames(hexMask: string): string[] {
  const mask = BigInt('0x' + (hexMask || '0'));
  return CAP_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

export interface ProbeRoots {
  /** Where cgroup hierarchies are mounted (default /sys/fs/cgroup). */
  cgroupRoot?: string;
  /** The process whose limits count (default /proc/self). */
  procSelf?: string;
  /** Where securityfs is mounted (default /sys/kernel/security). */
  securityfs?: string;
  /** SELinux's enforce file (default /sys/fs/selinux/enforce). */
  selinuxfs?: string;
}

export async function probeHostFeatures(roots: ProbeRoots = {}): Promise<HostFeatures> {
  const cg = roots.cgroupRoot ?? '/sys/fs/cgroup';
  const proc = roots.procSelf ?? '/proc/self';
  const v2 = existsSync(`${cg}/cgroup.controllers`);
  const status = await fs.readFile(`${proc}/status`, 'utf8');
  const oom = await fs.readFile(`${proc}/oom_score_adj`, 'utf8');
  return {
    cgroup: {
      cgroupV2: v2,
      swapAccounting: v2 ? true : existsSync(`${cg}/memory/memory.memsw.limit_in_bytes`),
      hugetlb: v2 || existsSync(`${cg}/hugetlb`),
    },
    boundingCaps: capabilityNames(/CapBnd:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'),
    ownOomScoreAdj: Number(oom.trim()) || 0,
    apparmor: existsSync(`${roots.securityfs ?? '/sys/kernel/security'}/apparmor`),
    selinux: existsSync(roots.selinuxfs ?? '/sys/fs/selinux/enforce'),
  };
}
