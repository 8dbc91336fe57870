// Which seccomp filter a container runs under, from its request.
import os from 'node:os';

import type { SecurityProfile } from '../../container/types.js';
import { runtimeDefaultSeccomp } from './build-seccomp.js';
import { loadLocalhostSeccomp } from './localhost-seccomp.js';
import type { OciSeccomp } from './seccomp-types.js';

/**
 * None for privileged containers, Unconfined and an unset profile (as with
 * containerd and CRI-O); Skiff's default policy for RuntimeDefault; the file's
 * for Localhost (INVALID_ARGUMENT when it is missing or not a profile).
 * `capabilities`: the effective set the process will hold.
 */
export function seccompFor(
  profile: SecurityProfile | undefined,
  privileged: boolean,
  capabilities: readonly string[],
  host: { arch: string; kernelRelease: string } = { arch: process.arch, kernelRelease: os.release() },
): OciSeccomp | undefined {
  if (privileged || !profile || profile.type === 'Unconfined') return undefined;
  if (profile.type === 'RuntimeDefault') return runtimeDefaultSeccomp(capabilities, host.arch, host.kernelRelease);
  return loadLocalhostSeccomp(profile.localhostRef, { capabilities, ...host });
}

/** Checks a pod-level profile at RunPodSandbox (a Localhost file must be a profile), whether or not an infra container uses it. */
export function checkSeccompProfile(profile: SecurityProfile | undefined): void {
  if (profile?.type === 'Localhost') seccompFor(profile, false, []);
}
