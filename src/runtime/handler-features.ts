// What each runtime handler can do, asked of its binary once at start-up
// (`<runtime> features`, runc ≥ 1.1 and crun ≥ 1.5 answer it) and checked
// against the kernel. Status reports it per handler and container creation
// refuses what a handler cannot apply.
import os from 'node:os';

import type { IdmapSupport } from '../host/idmap-probe.js';
import { run } from '../host/run.js';
import { kernelAtLeast } from '../security/seccomp/build-seccomp.js';

export interface HandlerFeatures {
  /** The "rro" mount option is applied (mount_setattr with AT_RECURSIVE: Linux 5.12+). */
  readonly recursiveReadOnlyMounts: boolean;
  /**
   * Pods with a user namespace of their own work: the runtime can join a
   * user namespace, and the host can idmap the image's layers and the volumes
   * (Skiff makes those mounts itself; see docs/security.md).
   */
  readonly userNamespaces: boolean;
  /** Why a feature is off, for Status' verbose info and errors. */
  readonly notes: readonly string[];
}

interface FeaturesOutput {
  mountOptions?: unknown;
  linux?: { namespaces?: unknown };
}

/** Parses `<runtime> features` JSON and the kernel release into the features Skiff uses. */
export function handlerFeaturesFrom(featuresJson: string | undefined, kernelRelease: string, idmap: IdmapSupport): HandlerFeatures {
  const notes: string[] = [];
  let mountOptions: string[] = [];
  let namespaces: string[] = [];
  if (featuresJson === undefined) notes.push('the runtime does not answer "features"');
  else {
    try {
      const parsed = JSON.parse(featuresJson) as FeaturesOutput;
      if (Array.isArray(parsed.mountOptions)) mountOptions = parsed.mountOptions.filter((o): o is string => typeof o === 'string');
      const ns = parsed.linux?.namespaces;
      if (Array.isArray(ns)) namespaces = ns.filter((o): o is string => typeof o === 'string');
    } catch {
      notes.push('the runtime\'s "features" output is not JSON');
    }
  }
  let rro = mountOptions.includes('rro');
  if (featuresJson !== undefined && !rro) notes.push('the runtime does not list the "rro" mount option');
  if (rro && !kernelAtLeast(kernelRelease, 5, 12)) {
    rro = false;
    notes.push(`kernel ${kernelRelease} has no mount_setattr (needs 5.12)`);
  }
  const userns = idmap.ok && namespaces.includes('user');
  if (!idmap.ok) notes.push(`user namespaces: ${idmap.reason}`);
  else if (!userns) notes.push('user namespaces: the runtime does not list the user namespace');
  return { recursiveReadOnlyMounts: rro, userNamespaces: userns, notes };
}

/** Asks the runtime binary for its features; a runtime that cannot answer gets none of the optional ones. */
export async function probeHandlerFeatures(binary: string, idmap: IdmapSupport): Promise<HandlerFeatures> {
  const res = await run(binary, ['features'], { timeoutMs: 10_000 }).catch(() => undefined);
  return handlerFeaturesFrom(res && res.code === 0 ? res.stdout : undefined, os.release(), idmap);
}
