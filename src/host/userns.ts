// The adapter for native/userns.c (skiff-userns): pinning a pod's user
// namespace with the namespaces it owns, and idmapped mounts. Built with the
// daemon; where it is missing, `available` is false and no handler reports
// user namespace support.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

import { SkiffError } from '../errors.js';
import { REPO_ROOT } from '../version.js';
import { run } from './run.js';

export interface IdRange {
  containerId: number;
  hostId: number;
  length: number;
}

export interface UserNamespacePins {
  user: string;
  net?: string;
  uts?: string;
  ipc?: string;
}

export interface UserNamespaceOps {
  readonly available: boolean;
  /** Creates the user namespace and, inside it, the pod's net/UTS/IPC namespaces; pins them all (the pin files must exist). */
  pin(pins: UserNamespacePins, uids: IdRange, gids: IdRange, hostname: string): Promise<void>;
  /** Mounts `src` (recursively) at `dst` (which must exist) idmapped with the pinned user namespace. */
  idmap(userPin: string, src: string, dst: string): Promise<void>;
}

const mapLine = (r: IdRange): string => `${r.containerId} ${r.hostId} ${r.length}`;

function helperPath(): string | undefined {
  const p = process.env['SKIFF_USERNS_HELPER'] || path.join(REPO_ROOT, 'dist', 'native', 'skiff-userns');
  try {
    accessSync(p, constants.X_OK);
    return p;
  } catch {
    return undefined;
  }
}

async function helper(binary: string | undefined, args: string[], what: string): Promise<void> {
  if (!binary) throw new SkiffError('FailedPrecondition', `${what}: dist/native/skiff-userns was not built`);
  const res = await run(binary, args, { timeoutMs: 10_000 });
  if (res.code !== 0) throw new SkiffError('Internal', `${what}: ${(res.stderr || res.stdout).trim() || `exit code ${res.code}`}`);
}

export function hostUserNamespaces(): UserNamespaceOps {
  const binary = helperPath();
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
