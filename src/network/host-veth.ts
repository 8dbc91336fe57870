import { existsSync } from 'node:fs';
import path from 'node:path';

import { readPseudoFiles } from '../stats/read-file.js';

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
  // sysfs attributes, read as the cgroup files are (readPseudoFiles).
  const names = ['rx_bytes', 'rx_errors', 'tx_bytes', 'tx_errors'];
  const texts = await readPseudoFiles(names.map((n) => path.join(SYS_NET, veth, 'statistics', n))).catch(() => []);
  const [rxB, rxE, txB, txE] = names.map((_, i) => Number(texts[i]?.trim() ?? NaN));
  // A missing file: the veth is gone (pod stopped).
  if ([rxB, rxE, txB, txE].some((n) => n === undefined || Number.isNaN(n))) return undefined;
  return { rxBytes: txB!, rxErrors: txE!, txBytes: rxB!, txErrors: rxE! };
}
