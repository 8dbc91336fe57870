import { nowNs } from './clock.js';
import { available, parseBigIntValue, parseFlatKeyed, parseLimit, parseNumberValue, workingSet } from './parse.js';
import { readPseudoFiles } from './read-file.js';
import type { CgroupStats } from './types.js';

const MEMORY_STAT_KEYS = ['total_inactive_file', 'total_rss', 'total_pgfault', 'total_pgmajfault'] as const;

/**
 * cgroup v1 (or hybrid): each controller is its own hierarchy at
 * <root>/<controller>, and an absolute cgroupfs path sits at the same place
 * in each. All files are read at once. A missing core file (CPU usage,
 * memory usage, memory.stat) means the cgroup is gone or being removed:
 * undefined. A missing limit or pids file only drops that field.
 */
export async function readV1(root: string, cgroupsPath: string): Promise<CgroupStats | undefined> {
  const mem = `${root}/memory${cgroupsPath}`;
  let timestampNs = 0n;
  const [cpuText, usageText, statText, limitText, pidsText] = await readPseudoFiles(
    [
      `${root}/cpuacct${cgroupsPath}/cpuacct.usage`,
      `${mem}/memory.usage_in_bytes`,
      `${mem}/memory.stat`,
      `${mem}/memory.limit_in_bytes`,
      `${root}/pids${cgroupsPath}/pids.current`,
    ],
    () => (timestampNs = nowNs()),
  );
  if (cpuText === undefined || usageText === undefined || statText === undefined) return undefined;

  const usageBytes = parseNumberValue(usageText, 'memory.usage_in_bytes');
  const stat = parseFlatKeyed(statText, MEMORY_STAT_KEYS);
  const workingSetBytes = workingSet(usageBytes, Number(stat.total_inactive_file ?? 0n));
  const limit = limitText === undefined ? undefined : parseLimit(limitText, 'memory.limit_in_bytes');
  const availableBytes = available(limit, workingSetBytes);

  const out: CgroupStats = {
    timestampNs,
    cpu: { usageCoreNanoSeconds: parseBigIntValue(cpuText, 'cpuacct.usage') },
    memory: {
      usageBytes,
      workingSetBytes,
      rssBytes: Number(stat.total_rss ?? 0n),
      pageFaults: Number(stat.total_pgfault ?? 0n),
      majorPageFaults: Number(stat.total_pgmajfault ?? 0n),
    },
  };
  if (availableBytes !== undefined) out.memory.availableBytes = availableBytes;
  if (pidsText !== undefined) out.pids = { current: parseNumberValue(pidsText, 'pids.current') };
  return out;
}
