// AppArmor requests (the CRI `apparmor` field and the deprecated
// `apparmor_profile` path form). Where the kernel has AppArmor, the profile is
// named in the OCI spec and runc applies it; where it has none, there is
// nothing to confine with, so RuntimeDefault and Unconfined are no-ops (as
// containerd and CRI-O do) and a Localhost profile, which the pod relies on,
// is refused.
import { existsSync, readFileSync } from 'node:fs';

import type { SecurityProfile } from '../container/types.js';
import { failedPrecondition } from '../errors.js';

/** The profile Skiff applies for RuntimeDefault; the operator loads it (docs/security.md). */
export const DEFAULT_APPARMOR_PROFILE = 'skiff-default';

export interface AppArmorHost {
  enabled: boolean;
  /** Names of the loaded profiles (read when needed). */
  loaded(): ReadonlySet<string>;
}

/** The kernel's list of loaded profiles: "name (mode)" lines. */
export function loadedProfiles(securityfs = '/sys/kernel/security'): ReadonlySet<string> {
  const file = `${securityfs}/apparmor/profiles`;
  if (!existsSync(file)) return new Set();
  return new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.replace(/\s+\([^)]*\)\s*$/, '').trim())
      .filter(Boolean),
  );
}

/**
 * The process.apparmorProfile for a container, or undefined for none.
 * Privileged containers run unconfined.
 */
export function apparmorFor(p: SecurityProfile | undefined, privileged: boolean, host: AppArmorHost): string | undefined {
  if (!host.enabled) {
    if (p?.type === 'Localhost')
      throw failedPrecondition(`apparmor: profile "${p.localhostRef}" was asked for, but AppArmor is not enabled on this host`);
    return undefined;
  }
  // Unset means no profile, as the field has always meant to runc.
  if (privileged || !p) return undefined;
  if (p.type === 'Unconfined') return 'unconfined';
  const name = p.type === 'Localhost' ? p.localhostRef : DEFAULT_APPARMOR_PROFILE;
  if (!host.loaded().has(name)) throw failedPrecondition(`apparmor: profile "${name}" is not loaded on this host`);
  return name;
}
