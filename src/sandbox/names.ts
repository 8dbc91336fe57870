import { invalidArgument } from '../errors.js';
import type { SandboxMetadata } from './types.js';

/** The unique sandbox name kubelet's retries are recognised by. */
export function sandboxName(m: SandboxMetadata): string {
  return `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}

export function validateMetadata(m: SandboxMetadata | undefined): SandboxMetadata {
  if (!m) throw invalidArgument('config.metadata is required');
  for (const field of ['name', 'uid', 'namespace'] as const) {
    if (!m[field]) throw invalidArgument(`config.metadata.${field} is required`);
  }
  return m;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * A pod hostname must be an RFC 1123 host name the kernel takes (at most 64
 * characters): it goes to sethostname and into the pod's /etc/hosts, where a
 * space or newline would add entries of the request's choosing. Empty means
 * the node's.
 */
export function checkHostname(hostname: string): void {
  if (hostname === '') return;
  if (hostname.length > 64) throw invalidArgument(`config.hostname: "${hostname.slice(0, 70)}…" is longer than 64 characters`);
  if (!hostname.split('.').every((l) => LABEL.test(l)))
    throw invalidArgument(`config.hostname: ${JSON.stringify(hostname)} is not an RFC 1123 host name`);
}
