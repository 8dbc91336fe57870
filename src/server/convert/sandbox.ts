// CRI PodSandbox messages (generated proto types) <-> the sandbox domain types.
import { invalidArgument } from '../../errors.js';
import type { PodSandbox } from '../../generated/runtime/v1/PodSandbox.js';
import type { PodSandboxConfig__Output } from '../../generated/runtime/v1/PodSandboxConfig.js';
import type { PodSandboxStatus } from '../../generated/runtime/v1/PodSandboxStatus.js';
import type { SandboxConfig, SandboxRecord } from '../../sandbox/types.js';
import { securityProfile, userNamespace } from './container-config.js';

const PROTOCOLS = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' } as const;

/** CRI PodSandboxConfig → the domain's SandboxConfig. */
export function toSandboxConfig(c: PodSandboxConfig__Output | null, runtimeHandler: string): SandboxConfig {
  if (!c) throw invalidArgument('config is required');
  const m = c.metadata;
  const sc = c.linux?.securityContext;
  const ns = sc?.namespaceOptions;
  const dns = c.dnsConfig;
  const seccomp = securityProfile(sc?.seccomp, sc?.seccompProfilePath ?? '', 'linux.security_context.seccomp');
  const apparmor = securityProfile(sc?.apparmor, '', 'linux.security_context.apparmor');
  const userns = userNamespace(ns?.usernsOptions);
  return {
    metadata: { name: m?.name ?? '', uid: m?.uid ?? '', namespace: m?.namespace ?? '', attempt: m?.attempt ?? 0 },
    hostname: c.hostname,
    logDirectory: c.logDirectory,
    dns: dns ? { servers: dns.servers, searches: dns.searches, options: dns.options } : undefined,
    portMappings: c.portMappings.map((p) => ({
      protocol: PROTOCOLS[p.protocol] ?? 'tcp',
      containerPort: p.containerPort,
      hostPort: p.hostPort,
      hostIp: p.hostIp,
    })),
    labels: c.labels,
    annotations: c.annotations,
    cgroupParent: c.linux?.cgroupParent ?? '',
    sysctls: c.linux?.sysctls ?? {},
    namespaces: {
      network: ns?.network ?? 'POD',
      pid: ns?.pid ?? 'POD',
      ipc: ns?.ipc ?? 'POD',
      targetId: ns?.targetId ?? '',
      ...(userns ? { userNamespace: userns } : {}),
    },
    privileged: sc?.privileged ?? false,
    ...(seccomp ? { seccomp } : {}),
    ...(apparmor ? { apparmor } : {}),
    runtimeHandler,
  };
}

export const stateOf = (r: SandboxRecord): 'SANDBOX_READY' | 'SANDBOX_NOTREADY' =>
  r.status.state === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';

export function toPodSandbox(r: SandboxRecord): PodSandbox {
  return {
    id: r.id,
    metadata: r.config.metadata,
    state: stateOf(r),
    createdAt: r.createdAt,
    labels: r.config.labels,
    annotations: r.config.annotations,
    runtimeHandler: r.runtimeHandler,
  };
}

export function toSandboxStatus(r: SandboxRecord): PodSandboxStatus {
  const [ip, ...more] = r.status.state === 'ready' ? r.status.ips : [];
  const ns = r.config.namespaces;
  return {
    id: r.id,
    metadata: r.config.metadata,
    state: stateOf(r),
    createdAt: r.createdAt,
    network: { ip: ip ?? '', additionalIps: more.map((a) => ({ ip: a })) },
    linux: { namespaces: { options: { network: ns.network, pid: ns.pid, ipc: ns.ipc, targetId: ns.targetId } } },
    labels: r.config.labels,
    annotations: r.config.annotations,
    runtimeHandler: r.runtimeHandler,
  };
}
