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
