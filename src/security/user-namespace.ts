// CRI user namespace requests (hostUsers: false pods). Kubelet sends one uid
// and one gid range starting at container id 0; anything else is refused, and
// a valid request is refused too where the runtime handler cannot run it.
import type { IdMapping, UserNamespaceRequest } from '../container/types.js';
import { failedPrecondition, invalidArgument } from '../errors.js';

const ID_LIMIT = 2 ** 32;

function checkMappings(list: readonly IdMapping[], field: string): void {
  if (list.length !== 1) throw invalidArgument(`${field}: exactly one mapping is supported, got ${list.length}`);
  const m = list[0]!;
  if (m.length <= 0) throw invalidArgument(`${field}: mapping length must be positive`);
  if (m.containerId !== 0) throw invalidArgument(`${field}: container id 0 must be mapped (mapping starts at ${m.containerId})`);
  if (m.hostId + m.length > ID_LIMIT || m.containerId + m.length > ID_LIMIT)
    throw invalidArgument(`${field}: mapping ${m.hostId}+${m.length} runs past the 32-bit id space`);
  // Container root as host root would make the user namespace pointless.
  if (m.hostId === 0) throw invalidArgument(`${field}: host id 0 cannot be mapped into a user namespace`);
}

/**
 * Checks a pod's (or container's) user namespace request. Mode NODE (or no
 * request) is the host's user namespace; POD needs valid mappings and a
 * handler that supports it; CONTAINER and TARGET are not modes a user
 * namespace can have.
 */
export function checkUserNamespace(req: UserNamespaceRequest | undefined, field: string, handler: string, supported: boolean): void {
  if (!req || req.mode === 'NODE') {
    if (req && (req.uids.length || req.gids.length)) throw invalidArgument(`${field}: mappings are only for mode POD`);
    return;
  }
  if (req.mode !== 'POD') throw invalidArgument(`${field}: mode ${req.mode} is not supported for user namespaces (use POD or NODE)`);
  checkMappings(req.uids, `${field}.uids`);
  checkMappings(req.gids, `${field}.gids`);
  if (!supported)
    throw failedPrecondition(
      `${field}: runtime handler "${handler || 'default'}" cannot run pods in a user namespace (see Status runtime_handlers features)`,
    );
}

/**
 * The uid and gid mapping of a pod with a user namespace of its own (mode
 * POD, already checked: one range each), or undefined for the host's.
 */
export function podMappings(ns: { userNamespace?: UserNamespaceRequest }): { uids: IdMapping; gids: IdMapping } | undefined {
  const u = ns.userNamespace;
  if (u?.mode !== 'POD' || !u.uids[0] || !u.gids[0]) return undefined;
  return { uids: u.uids[0], gids: u.gids[0] };
}
