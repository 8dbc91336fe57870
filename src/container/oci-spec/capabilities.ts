import { failedPrecondition, invalidArgument } from '../../errors.js';
import type { ContainerCapabilities } from '../types.js';
import { DEFAULT_CAPABILITIES } from './defaults.js';
import type { OciCapabilities } from './oci-spec.js';

/** Kubelet sends "NET_ADMIN"; the OCI spec wants "CAP_NET_ADMIN". Either is accepted. */
export function capName(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

const isAll = (name: string): boolean => name.trim().toUpperCase() === 'ALL';

/** Linux's capabilities, by number (0 CAP_CHOWN … 40 CAP_CHECKPOINT_RESTORE). */
export const KNOWN_CAPABILITIES: readonly string[] = `CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID
  SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
  SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
  SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM
  BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE`
  .trim()
  .split(/\s+/)
  .map((c) => `CAP_${c}`);
const KNOWN = new Set(KNOWN_CAPABILITIES);

/**
 * Refuses what cannot be applied as asked: a name Linux does not have
 * (INVALID_ARGUMENT), or an explicit add (or ambient add) of one the runtime
 * itself lacks (FAILED_PRECONDITION; "ALL" and privileged mean "all there
 * are" and are cut to the bounding set instead).
 */
export function checkCapabilities(req: ContainerCapabilities | undefined, bounding: readonly string[]): void {
  const have = new Set(bounding.map(capName));
  const lists: [string, string[]][] = [
    ['add_capabilities', req?.add ?? []],
    ['drop_capabilities', req?.drop ?? []],
    ['add_ambient_capabilities', req?.addAmbient ?? []],
  ];
  for (const [field, names] of lists) {
    for (const n of names) {
      if (isAll(n) && field !== 'add_ambient_capabilities') continue;
      if (!KNOWN.has(capName(n)))
        throw invalidArgument(`linux.security_context.capabilities.${field}: unknown capability ${JSON.stringify(n)}`);
      if (field !== 'drop_capabilities' && !have.has(capName(n)))
        throw failedPrecondition(
          `linux.security_context.capabilities.${field}: ${capName(n)} is not in the runtime's bounding set, so no container here can hold it`,
        );
    }
  }
}

/**
 * The container's capability sets.
 *
 * The order of operations is containerd's, so that `add: [ALL], drop: [CHOWN]`
 * means "everything but CHOWN": add ALL, then drop ALL, then the named adds,
 * then the named drops. Privileged containers get every capability we have.
 *
 * Everything is then cut down to `bounding` (the runtime's own bounding set):
 * runc fails with "unable to apply caps" on a capability the runtime does not
 * hold (hosts without CAP_SYS_RESOURCE are common), and a container cannot get more
 * than its runtime has anyway.
 *
 * Bounding, effective and permitted are the same set; inheritable holds only
 * the requested ambient capabilities, which need it to survive execve.
 */
export function capabilitySets(req: ContainerCapabilities | undefined, privileged: boolean, bounding: readonly string[]): OciCapabilities {
  const have = new Set(bounding.map(capName));
  let caps: Set<string>;
  if (privileged) {
    caps = new Set(have);
  } else {
    caps = new Set(DEFAULT_CAPABILITIES);
    const add = req?.add ?? [];
    const drop = req?.drop ?? [];
    if (add.some(isAll)) caps = new Set(have);
    if (drop.some(isAll)) caps = new Set();
    for (const c of add) if (!isAll(c)) caps.add(capName(c));
    for (const c of drop) if (!isAll(c)) caps.delete(capName(c));
  }
  const ambient = [...new Set((req?.addAmbient ?? []).map(capName))].filter((c) => have.has(c));
  // An ambient capability must also be permitted and effective to be usable.
  for (const c of ambient) caps.add(c);
  const set = [...caps].filter((c) => have.has(c));
  return { bounding: set, effective: [...set], permitted: [...set], inheritable: [...ambient], ambient };
}
