/** One reading of a container's (or pod's) cgroup, in CRI units. */
export interface CgroupStats {
  /** Wall-clock Unix time of the CPU reading, in nanoseconds (monotonic between readings). */
  timestampNs: bigint;
  cpu: {
    /** Cumulative CPU time of every task in the cgroup, in nanoseconds. */
    usageCoreNanoSeconds: bigint;
  };
  memory: {
    /** v1 memory.usage_in_bytes, v2 memory.current (page cache included). */
    usageBytes: number;
    /** usage minus inactive file pages, floored at 0: what kubelet evicts and OOM-ranks on. */
    workingSetBytes: number;
    /** Anonymous memory: v1 total_rss, v2 anon. */
    rssBytes: number;
    pageFaults: number;
    majorPageFaults: number;
    /** limit - workingSet (floored at 0), only when the cgroup has a memory limit. */
    availableBytes?: number;
  };
  /** Absent when the pids controller is not available for the cgroup. */
  pids?: { current: number };
}
