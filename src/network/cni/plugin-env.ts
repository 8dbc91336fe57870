import { invalidArgument } from '../../errors.js';
import { type CniCommand, type CniPodInfo, DEFAULT_IFNAME } from './types.js';

// Used when the daemon's own PATH is empty: plugins run iptables, ip, etc.
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// Spec: container IDs are alphanumeric plus _ . -; we also use the ID as a cache file name.
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks what the spec requires of an interface name (and the kernel's 15-byte limit). */
export function validateIfName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.length > 15 || /[/:\s]/.test(name)) {
    throw invalidArgument(`invalid CNI interface name ${JSON.stringify(name)}`);
  }
}

export function validateContainerId(id: string): void {
  if (!CONTAINER_ID.test(id)) throw invalidArgument(`invalid sandbox id for CNI: ${JSON.stringify(id)}`);
}

/**
 * CNI_ARGS as kubelet-era runtimes send it. IgnoreUnknown=1 first, so plugins that
 * do not know the K8S_* keys accept them. The format has no escaping: a value
 * holding ';' or '=' would corrupt the list, so it is refused instead.
 */
export function cniArgs(pod: CniPodInfo): string {
  const pairs: [string, string][] = [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', pod.podNamespace],
    ['K8S_POD_NAME', pod.podName],
    ['K8S_POD_INFRA_CONTAINER_ID', pod.sandboxId],
    ['K8S_POD_UID', pod.podUid],
  ];
  for (const [k, v] of pairs) {
    if (/[;=]/.test(v)) throw invalidArgument(`CNI_ARGS value for ${k} must not contain ';' or '=': ${JSON.stringify(v)}`);
  }
  return pairs.map(([k, v]) => `${k}=${v}`).join(';');
}

/**
 * The whole environment of a plugin: the CNI variables plus PATH, nothing else
 * from the daemon (plugins must not depend on incidental variables).
 * `netns` is passed separately because DEL may deliberately blank it.
 */
export function pluginEnv(command: CniCommand, binDirs: string[], pod?: CniPodInfo, netns?: string): Record<string, string> {
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_PATH: binDirs.join(':'),
    PATH: process.env['PATH'] || FALLBACK_PATH,
  };
  if (pod) {
    env['CNI_CONTAINERID'] = pod.sandboxId;
    env['CNI_NETNS'] = netns ?? pod.netnsPath;
    env['CNI_IFNAME'] = pod.ifName ?? DEFAULT_IFNAME;
    env['CNI_ARGS'] = cniArgs(pod);
  }
  return env;
}
