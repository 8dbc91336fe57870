import { readFile } from 'node:fs/promises';

import { invalidArgument } from '../errors.js';
import type { DnsConfig } from './types.js';

const SAFE = /^[^\s#;]+$/;

/**
 * The pod's resolv.conf: from the DNS config kubelet sends, or the host's own
 * file when it sends none (dnsPolicy "None" with no servers is kubelet's job).
 */
export async function renderResolvConf(dns: DnsConfig | undefined): Promise<string> {
  if (!dns || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) {
    return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  }
  const lines: string[] = [];
  for (const [what, list] of [
    ['servers', dns.servers],
    ['searches', dns.searches],
    ['options', dns.options],
  ] as const) {
    for (const v of list) if (!SAFE.test(v)) throw invalidArgument(`dns_config.${what}: "${v}" is not a valid entry`);
  }
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}
