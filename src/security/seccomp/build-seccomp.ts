// Turns the RuntimeDefault policy (runtime-default.ts) into the OCI filter for
// one architecture, kernel and capability set, as a container's spec needs it.
import {
  AF_VSOCK,
  ALWAYS_ALLOWED,
  ARCH_ONLY,
  CLONE_NAMESPACE_FLAGS,
  ENOSYS,
  EPERM,
  FROM_LINUX_4_8,
  PERSONALITIES,
  WITH_CAPABILITY,
} from './runtime-default.js';
import type { OciSeccomp, SeccompRule } from './seccomp-types.js';

/** Node's process.arch → the architecture names the policy uses, and the filter's OCI arch list (native first). */
const ARCHES: Readonly<Record<string, { policy: readonly string[]; oci: readonly string[] }>> = {
  x64: { policy: ['amd64', 'x32', 'x86'], oci: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  arm64: { policy: ['arm64', 'arm'], oci: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'] },
};

/** Whether "6.1.0-18-amd64" is at least major.minor. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = release.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  return a > major || (a === major && b >= minor);
}

/**
 * The RuntimeDefault filter for a container holding `capabilities` (OCI names,
 * the effective set it will run with) on `arch` (process.arch) under kernel
 * `release` (os.release()). Throws for an architecture it has no table for:
 * a filter for the wrong ABI would be wrong, not weaker.
 */
export function runtimeDefaultSeccomp(capabilities: readonly string[], arch: string, release: string): OciSeccomp {
  const a = ARCHES[arch];
  if (!a) throw new Error(`no RuntimeDefault seccomp policy for architecture ${arch}`);
  const caps = new Set(capabilities);
  const allowed = new Set(ALWAYS_ALLOWED);
  if (kernelAtLeast(release, 4, 8)) for (const n of FROM_LINUX_4_8) allowed.add(n);
  for (const { arches, names } of ARCH_ONLY) if (arches.some((x) => a.policy.includes(x))) for (const n of names) allowed.add(n);
  for (const [cap, names] of Object.entries(WITH_CAPABILITY)) if (caps.has(cap)) for (const n of names) allowed.add(n);
  const sysAdmin = caps.has('CAP_SYS_ADMIN');
  const rules: SeccompRule[] = [
    { names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
    ...PERSONALITIES.map((value): SeccompRule => ({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
    })),
  ];
  if (!sysAdmin) {
    rules.push(
      // Allowed when (flags & NAMESPACE_FLAGS) == 0.
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    );
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EPERM, architectures: [...a.oci], syscalls: rules };
}
