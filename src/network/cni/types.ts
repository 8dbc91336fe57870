// Public shapes of the CNI runtime. Kept free of behaviour so every module
// (and the sandbox service above) can import them without pulling in exec code.

export interface CniPodInfo {
  sandboxId: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  /** Path of the pod's network namespace (a bind-mounted pin). */
  netnsPath: string;
  /** Interface inside the pod; default eth0. */
  ifName?: string;
}

/** Runtime-supplied dynamic config, handed only to plugins declaring the matching capability. */
export interface CniCapabilities {
  portMappings?: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' | 'sctp'; hostIP?: string }[];
  dns?: { servers?: string[]; searches?: string[]; options?: string[] };
  /** Rates in bits per second, bursts in bits (the bandwidth plugin's units). */
  bandwidth?: { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number };
}

export interface CniInterfaceIp {
  /** CIDR, e.g. 10.1.0.5/24. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniAddResult {
  cniVersion: string;
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: CniInterfaceIp[];
  routes?: unknown[];
  dns?: unknown;
  /** The final plugin's result exactly as printed: this is what DEL/CHECK get as prevResult. */
  raw: Record<string, unknown>;
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export const DEFAULT_IFNAME = 'eth0';
