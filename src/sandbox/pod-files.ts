import type { CniPodInfo } from '../network/cni/types.js';
import type { SandboxRecord } from './types.js';

/** What CNI plugins are told about the pod. */
export function podInfo(record: SandboxRecord): Omit<CniPodInfo, 'ifName'> {
  return {
    sandboxId: record.id,
    podName: record.config.metadata.name,
    podNamespace: record.config.metadata.namespace,
    podUid: record.config.metadata.uid,
    netnsPath: record.pins.net ?? '',
  };
}

/** The pod's /etc/hosts, for clients that do not mount kubelet's own. */
export function renderHosts(ip: string | undefined, hostname: string): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  if (ip) lines.push(`${ip}\t${hostname}`);
  return lines.join('\n') + '\n';
}

/** IPv4 first: kubelet takes the first IP as the pod's primary one. */
export function orderIps(ips: string[]): string[] {
  return [...ips.filter((i) => !i.includes(':')), ...ips.filter((i) => i.includes(':'))];
}
