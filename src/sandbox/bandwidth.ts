import { invalidArgument } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** A Kubernetes quantity such as "10M" or "1Gi", in bits per second. */
export function parseBandwidth(value: string, annotation: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(value.trim());
  if (!m) throw invalidArgument(`annotation ${annotation}: "${value}" is not a bandwidth quantity`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? '']!);
}

/**
 * The CNI `bandwidth` capability from kubelet's pod annotations
 * (kubernetes.io/ingress-bandwidth, kubernetes.io/egress-bandwidth). Bursts
 * are not in the annotations; the plugin needs one, so a generous fixed one is used.
 */
export function bandwidthCapability(
  annotations: Record<string, string>,
): { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number } | undefined {
  const ingress = annotations['kubernetes.io/ingress-bandwidth'];
  const egress = annotations['kubernetes.io/egress-bandwidth'];
  if (ingress === undefined && egress === undefined) return undefined;
  const burst = 2 ** 31 - 1; // bits; what kubelet's dockershim used
  return {
    ...(ingress !== undefined ? { ingressRate: parseBandwidth(ingress, 'kubernetes.io/ingress-bandwidth'), ingressBurst: burst } : {}),
    ...(egress !== undefined ? { egressRate: parseBandwidth(egress, 'kubernetes.io/egress-bandwidth'), egressBurst: burst } : {}),
  };
}
