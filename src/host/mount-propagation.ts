import { readFileSync } from 'node:fs';

import { failedPrecondition } from '../errors.js';

interface MountEntry {
  mountPoint: string;
  shared: boolean;
  slave: boolean;
}

function mountEntries(): MountEntry[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      const sep = fields.indexOf('-');
      const optional = fields.slice(6, sep);
      return {
        mountPoint: fields[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))),
        shared: optional.some((f) => f.startsWith('shared:')),
        slave: optional.some((f) => f.startsWith('master:')),
      };
    });
}

/** The mount (the last one listed wins when stacked) that holds a path. */
export function mountOf(path: string): MountEntry {
  let best: MountEntry | undefined;
  for (const e of mountEntries()) {
    const under = path === e.mountPoint || path.startsWith(e.mountPoint === '/' ? '/' : e.mountPoint + '/');
    if (under && (!best || e.mountPoint.length >= best.mountPoint.length)) best = e;
  }
  return best!;
}

/**
 * Checks that a bind source can propagate as asked: bidirectional needs the
 * host mount shared, host-to-container needs it shared or a slave. As with
 * containerd and CRI-O, the host is not changed behind the operator's back.
 */
export function checkHostPropagation(path: string, mode: 'shared' | 'slave'): void {
  const m = mountOf(path);
  const ok = mode === 'shared' ? m.shared : m.shared || m.slave;
  if (!ok) {
    const want = mode === 'shared' ? 'a shared mount (Bidirectional propagation)' : 'a shared or slave mount (HostToContainer propagation)';
    throw failedPrecondition(
      `mount source ${path} is on ${m.mountPoint}, which is not ${want}; make it shared with "mount --make-rshared ${m.mountPoint}"`,
    );
  }
}
