import { existsSync } from 'node:fs';
import path from 'node:path';

import { readSmallFile } from '../stats/read-file.js';

const SYS_NET = '/sys/class/net';

/**
 * The host end of a pod's veth among CNI result interfaces: one outside the
 * pod (no `sandbox`) that is a bridge port. Its counters give the pod's
 * traffic without entering the pod's network namespace.
 */
export function hostVeth(interfaces: readonly { name: string; sandbox?: string }[]): string | undefined {
  return interfaces.find((i) => !i.sandbox && /^[\w.@-]{1,15}$/.test(i.name) && existsSync(path.join(SYS_NET, i.name, 'brport')))?.name;
}

export interface InterfaceCounters {
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

/** The pod's view of its traffic: what the host end received, the pod sent (and the reverse). */
export async function podSideCounters(veth: string): Promise<InterfaceCounters | undefined> {
  const read = async (name: string): Promise<number> =>
    // sysfs attributes: one open and read each (readSmallFile), as the cgroup files are.
    Number((await readSmallFile(path.join(SYS_NET, veth, 'statistics', name))).trim());
  try {
    const [rxB, rxE, txB, txE] = await Promise.all([read('rx_bytes'), read('rx_errors'), read('tx_bytes'), read('tx_errors')]);
    return { rxBytes: txB, rxErrors: txE, txBytes: rxB, txErrors: rxE };
  } catch {
    return undefined; // the veth is gone (pod stopped)
  }
}
