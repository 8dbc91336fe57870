import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { IdMapping } from '../container/types.js';
import { SkiffError } from '../errors.js';
import { bindMount, isMountPoint, makeShared, unmount } from '../host/mount.js';
import { run } from '../host/run.js';
import type { UserNamespaceOps } from '../host/userns.js';
import type { NamespacePins } from './types.js';

/**
 * Pod namespaces held by bind-mounted nsfs files instead of a pause process
 * (as CRI-O does): `unshare --net=<file>` creates the namespace and pins it in
 * one ~5 ms process. The pin directory is a shared mount of its own, so mount
 * namespaces created later (containers) see unmounts and do not keep hidden
 * copies of the pins alive.
 */
export class PodNamespaces {
  constructor(
    private readonly dir: string,
    private readonly userns: Pick<UserNamespaceOps, 'pin'>,
  ) {}

  /** Makes the pin directory a shared bind mount (idempotent). */
  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o711 });
    if (!isMountPoint(this.dir)) await bindMount(this.dir, this.dir);
    await makeShared(this.dir);
  }

  pinPaths(sandboxId: string, want: { net: boolean; uts: boolean; ipc: boolean; user?: boolean }): NamespacePins {
    const p = (kind: string): string => path.join(this.dir, `${sandboxId}.${kind}`);
    return {
      ...(want.net ? { net: p('net') } : {}),
      ...(want.uts ? { uts: p('uts') } : {}),
      ...(want.ipc ? { ipc: p('ipc') } : {}),
      ...(want.user ? { user: p('user') } : {}),
    };
  }

  /**
   * Creates and pins the namespaces, sets the hostname (own UTS) and sysctls.
   * On failure whatever was pinned is released.
   */
  async create(pins: NamespacePins, hostname: string, sysctls: string[], userns?: { uids: IdMapping; gids: IdMapping }): Promise<void> {
    const flags: string[] = [];
    for (const [kind, file] of Object.entries(pins) as [keyof NamespacePins, string][]) {
      await fs.writeFile(file, '', { mode: 0o444 }); // unshare needs the target to exist
      if (kind !== 'user') flags.push(`--${kind}=${file}`);
    }
    if (flags.length === 0 && !pins.user) return;
    try {
      if (pins.user) {
        // The user namespace first, and the others inside it, so that the pod's root owns them.
        if (!userns) throw new SkiffError('Internal', 'a user namespace pin without mappings');
        await this.userns.pin({ ...pins, user: pins.user }, userns.uids, userns.gids, pins.uts ? hostname : '');
      } else {
        // The command runs inside the new namespaces: it sets the hostname there.
        const cmd = pins.uts ? ['hostname', hostname] : ['true'];
        const res = await run('unshare', [...flags, '--', ...cmd]);
        if (res.code !== 0) throw new SkiffError('Internal', `creating pod namespaces: ${res.stderr.trim()}`);
      }
      if (sysctls.length) {
        // As the host's root: entering the user namespace would lose the right to its own pins.
        const enter = (Object.entries(pins) as [string, string][])
          .filter(([kind]) => kind !== 'user')
          .map(([kind, file]) => `--${kind}=${file}`);
        const set = await run('nsenter', [...enter, '--', 'sysctl', '-w', ...sysctls]);
        if (set.code !== 0) throw new SkiffError('InvalidArgument', `setting sysctls: ${(set.stderr || set.stdout).trim()}`);
      }
    } catch (err) {
      await this.release(pins);
      throw err;
    }
  }

  /** Unmounts and removes the pin files; missing ones are fine. */
  async release(pins: NamespacePins): Promise<void> {
    for (const file of Object.values(pins) as string[]) {
      await unmount(file);
      await fs.rm(file, { force: true });
    }
  }

  /** Pin files whose sandbox is unknown (left by a crash or a reboot). */
  async orphans(known: Set<string>): Promise<string[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => !known.has(n.split('.')[0]!)).map((n) => path.join(this.dir, n));
  }

  /** True when every pin is still a live mount. */
  alive(pins: NamespacePins): boolean {
    return (Object.values(pins) as string[]).every((f) => isMountPoint(f));
  }
}
