import { nowNs } from './clock.js';
import { available, parseFlatKeyed, parseLimit, parseNumberValue, workingSet } from './parse.js';
import { readPseudoFiles } from './read-file.js';
import type { CgroupStats } from './types.js';

const MEMORY_STAT_KEYS = ['inactive_file', 'anon', 'pgfault', 'pgmajfault'] as const;
const CPU_STAT_KEYS = ['usage_usec'] as const;

/**
 * cgroup v2 (unified): one hierarchy, every file under <root><cgroupsPath>.
 * cpu.stat, memory.current and memory.stat are core (missing: the cgroup is
 * gone, undefined); memory.max and pids.current are optional.
 */
export async function readV2(root: string, cgroupsPath: string): Promise<CgroupStats | undefined> {
  const dir = `${root}${cgroupsPath}`;
  let timestampNs = 0n;
  const [cpuText, currentText, statText, maxText, pidsText] = await readPseudoFiles(
    [`${dir}/cpu.stat`, `${dir}/memory.current`, `${dir}/memory.stat`, `${dir}/memory.max`, `${dir}/pids.current`],
    () => (timestampNs = nowNs()),
  );
  if (cpuText === undefined || currentText === undefined || statText === undefined) return undefined;

  const usageUsec = parseFlatKeyed(cpuText, CPU_STAT_KEYS).usage_usec;
  if (usageUsec === undefined) throw new Error(`${dir}/cpu.stat: no usage_usec`);
  const usageBytes = parseNumberValue(currentText, 'memory.current');
  const stat = parseFlatKeyed(statText, MEMORY_STAT_KEYS);
  const workingSetBytes = workingSet(usageBytes, Number(stat.inactive_file ?? 0n));
  const limit = maxText === undefined ? undefined : parseLimit(maxText, 'memory.max');
  const availableBytes = available(limit, workingSetBytes);

  const out: CgroupStats = {
    timestampNs,
    cpu: { usageCoreNanoSeconds: usageUsec * 1000n },
    memory: {
      usageBytes,
      workingSetBytes,
      rssBytes: Number(stat.anon ?? 0n),
      pageFaults: Number(stat.pgfault ?? 0n),
      majorPageFaults: Number(stat.pgmajfault ?? 0n),
    },
  };
  if (availableBytes !== undefined) out.memory.availableBytes = availableBytes;
  if (pidsText !== undefined) out.pids = { current: parseNumberValue(pidsText, 'pids.current') };
  return out;
}
