// The adapter for native/userns.c (skiff-userns): pinning a pod's user
// namespace with the namespaces it owns, and idmapped mounts. Built with the
// daemon; where it is missing, `available` is false and no handler reports
// user namespace support.
import type { IdMapping } from '../container/types.js';
import { SkiffError } from '../errors.js';
import { nativeHelper } from './native-helper.js';
import { run } from './run.js';

export interface UserNamespacePins {
  user: string;
  net?: string;
  uts?: string;
  ipc?: string;
}

export interface UserNamespaceOps {
  readonly available: boolean;
  /** Creates the user namespace and, inside it, the pod's net/UTS/IPC namespaces; pins them all (the pin files must exist). */
  pin(pins: UserNamespacePins, uids: IdMapping, gids: IdMapping, hostname: string): Promise<void>;
  /** Mounts `src` (recursively) at `dst` (which must exist) idmapped with the pinned user namespace. */
  idmap(userPin: string, src: string, dst: string): Promise<void>;
}

const mapLine = (r: IdMapping): string => `${r.containerId} ${r.hostId} ${r.length}`;

async function helper(binary: string | undefined, args: string[], what: string): Promise<void> {
  if (!binary) throw new SkiffError('FailedPrecondition', `${what}: dist/native/skiff-userns was not built`);
  const res = await run(binary, args, { timeoutMs: 10_000 });
  if (res.code !== 0) throw new SkiffError('Internal', `${what}: ${(res.stderr || res.stdout).trim() || `exit code ${res.code}`}`);
}

export function hostUserNamespaces(): UserNamespaceOps {
  const binary = nativeHelper('skiff-userns', 'SKIFF_USERNS_HELPER');
  return {
    available: binary !== undefined,
    pin: (pins, uids, gids, hostname) =>
      helper(
        binary,
        ['pin', mapLine(uids), mapLine(gids), hostname, pins.user, pins.net ?? '-', pins.uts ?? '-', pins.ipc ?? '-'],
        'pinning the pod user namespace',
      ),
    idmap: (userPin, src, dst) => helper(binary, ['idmap', userPin, src, dst], `idmapped mount of ${src}`),
  };
}
