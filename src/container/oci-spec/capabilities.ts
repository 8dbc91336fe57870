import type { ContainerCapabilities } from '../types.js';
import { DEFAULT_CAPABILITIES } from './defaults.js';
import type { OciCapabilities } from './oci-spec.js';

/** Kubelet sends "NET_ADMIN"; the OCI spec wants "CAP_NET_ADMIN". Either is accepted. */
export function capName(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

const isAll = (name: string): boolean => name.trim().toUpperCase() === 'ALL';

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
