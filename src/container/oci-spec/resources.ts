import type { CgroupFeatures } from '../../host/features.js';
import type { ContainerResources } from '../types.js';
import type { OciCpu, OciMemory, OciResources } from './oci-spec.js';

/**
 * The cgroup limits from CRI resources (0 or "" meaning unset, as in CRI).
 *
 * Swap: with a memory limit and no swap limit, swap is set equal to the limit
 * (cgroup v1 counts memory+swap), so that a container cannot swap unless asked,
 * as with containerd. Without swap accounting, swap is left out: runc fails
 * writing a file that does not exist.
 *
 * Hugepages: kubelet sends a limit for every page size the node has, 0 when the
 * pod requests none; they are only passed when runc can apply them.
 *
 * Devices are the caller's (see build-spec.ts). Also used for
 * UpdateContainerResources (`runc update --resources`), where an absent field
 * means "leave as is".
 */
export function cgroupResources(r: ContainerResources, f: CgroupFeatures): Omit<OciResources, 'devices'> {
  const out: Omit<OciResources, 'devices'> = {};
  const cpu: OciCpu = {};
  if (r.cpuShares > 0) cpu.shares = r.cpuShares;
  if (r.cpuQuota !== 0) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod > 0) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus !== '') cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems !== '') cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;

  const memory: OciMemory = {};
  if (r.memoryLimitInBytes > 0) memory.limit = r.memoryLimitInBytes;
  if (f.swapAccounting) {
    if (r.memorySwapLimitInBytes !== 0) memory.swap = r.memorySwapLimitInBytes;
    else if (memory.limit !== undefined) memory.swap = memory.limit;
  }
  if (Object.keys(memory).length) out.memory = memory;

  if (f.hugetlb && r.hugepageLimits.length) out.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: h.limit }));
  if (f.cgroupV2 && Object.keys(r.unified).length) out.unified = { ...r.unified };
  return out;
}
