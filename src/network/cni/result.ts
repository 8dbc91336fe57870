import { SkiffError } from '../../errors.js';
import type { CniAddResult, CniInterfaceIp } from './types.js';
import { MIN_CNI_VERSION, versionAtLeast } from './version.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function invalid(plugin: string, why: string): SkiffError {
  return new SkiffError('Internal', `CNI plugin ${plugin} returned an invalid result: ${why}`);
}

/**
 * Reads an ADD result (spec 0.3.0 to 1.0.0; the 0.3/0.4 `ips[].version` field is
 * simply ignored). Older result shapes (0.1/0.2: top-level ip4/ip6) are refused:
 * they carry no interfaces and cannot be chained.
 */
export function parseAddResult(plugin: string, raw: unknown): CniAddResult {
  if (!isObject(raw)) throw invalid(plugin, 'not a JSON object');
  const cniVersion = raw['cniVersion'];
  if (typeof cniVersion !== 'string') throw invalid(plugin, 'no "cniVersion"');
  if (!versionAtLeast(cniVersion, MIN_CNI_VERSION)) {
    throw new SkiffError(
      'FailedPrecondition',
      `CNI plugin ${plugin} returned a result in spec ${cniVersion}; Skiff needs ${MIN_CNI_VERSION} or newer`,
    );
  }
  const interfaces: CniAddResult['interfaces'] = [];
  const rawIfs = raw['interfaces'] ?? [];
  if (!Array.isArray(rawIfs)) throw invalid(plugin, '"interfaces" is not a list');
  for (const [i, itf] of rawIfs.entries()) {
    if (!isObject(itf) || typeof itf['name'] !== 'string') throw invalid(plugin, `interface ${i} has no name`);
    const mac = optString(itf['mac']);
    const sandbox = optString(itf['sandbox']);
    interfaces.push({ name: itf['name'], ...(mac ? { mac } : {}), ...(sandbox ? { sandbox } : {}) });
  }
  const ips: CniInterfaceIp[] = [];
  const rawIps = raw['ips'] ?? [];
  if (!Array.isArray(rawIps)) throw invalid(plugin, '"ips" is not a list');
  for (const [i, ip] of rawIps.entries()) {
    if (!isObject(ip) || typeof ip['address'] !== 'string') throw invalid(plugin, `ip ${i} has no address`);
    const gateway = optString(ip['gateway']);
    const index = typeof ip['interface'] === 'number' ? ip['interface'] : undefined;
    ips.push({ address: ip['address'], ...(gateway ? { gateway } : {}), ...(index !== undefined ? { interface: index } : {}) });
  }
  const result: CniAddResult = { cniVersion, interfaces, ips, raw };
  if (Array.isArray(raw['routes'])) result.routes = raw['routes'];
  if (raw['dns'] !== undefined) result.dns = raw['dns'];
  return result;
}

/** The pod's addresses without prefix length, IPv4 first (the CRI reports the first as the pod IP). */
export function podIps(result: CniAddResult): string[] {
  const inPod = new Set(result.interfaces.flatMap((itf, i) => (itf.sandbox ? [i] : [])));
  const picked = result.ips.filter((ip) => ip.interface === undefined || inPod.size === 0 || inPod.has(ip.interface));
  const bare = picked.map((ip) => ip.address.split('/')[0]!);
  return [...bare.filter((a) => !a.includes(':')), ...bare.filter((a) => a.includes(':'))];
}
