import { invalidArgument } from '../errors.js';

export type SysctlNamespace = 'net' | 'ipc' | 'uts';

const IPC_PREFIXES = ['kernel.shm', 'kernel.msg', 'fs.mqueue.'];
const IPC_EXACT = new Set(['kernel.sem']);
const UTS_EXACT = new Set(['kernel.hostname', 'kernel.domainname']);

/** Which namespace a sysctl lives in; others cannot be set per pod. */
export function sysctlNamespace(name: string): SysctlNamespace {
  const dotted = name.replace(/\//g, '.');
  if (!/^[a-z0-9_.-]+$/i.test(dotted)) throw invalidArgument(`sysctl "${name}" is not a valid name`);
  if (dotted.startsWith('net.')) return 'net';
  if (IPC_EXACT.has(dotted) || IPC_PREFIXES.some((p) => dotted.startsWith(p))) return 'ipc';
  if (UTS_EXACT.has(dotted)) return 'uts';
  throw invalidArgument(`sysctl "${name}" is not namespaced and cannot be set for a pod`);
}

/** Checks every sysctl against the pod's namespaces and returns them as name=value pairs. */
export function planSysctls(sysctls: Record<string, string>, own: { net: boolean; ipc: boolean; uts: boolean }): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(sysctls)) {
    const ns = sysctlNamespace(name);
    if (!own[ns]) throw invalidArgument(`sysctl "${name}" needs the pod's own ${ns} namespace, but the pod uses the host's`);
    if (/[\n\0]/.test(value)) throw invalidArgument(`sysctl "${name}" has an invalid value`);
    out.push(`${name.replace(/\//g, '.')}=${value}`);
  }
  return out;
}
