/** One second: the shortest window a rate is computed over, by default. */
export const DEFAULT_MIN_INTERVAL_NS = 1_000_000_000n;

export interface CpuRateTrackerOptions {
  /**
   * Shortest interval, in nanoseconds, between the baseline and a sample for a
   * new rate to be computed from them. Default 1 s. 0n disables the hold.
   */
  minIntervalNs?: bigint;
}

interface Baseline {
  usageNs: bigint;
  atNs: bigint;
  /** The rate computed when this baseline was taken, if any. */
  rate: number | undefined;
}

/**
 * CRI's usage_nano_cores: CPU time consumed per second of wall time, in
 * billionths of a core, from cumulative usage samples (cpu usage ns + time).
 *
 * containerd computes it between consecutive calls and replaces its baseline
 * each time, so two callers polling a few milliseconds apart (kubelet's
 * summary, metrics scrapes, crictl stats) get rates over tiny, noisy windows,
 * and concurrent callers can hand it out-of-order samples. Here:
 *
 * - the first sample of a key only sets the baseline: undefined (no rate yet);
 * - a sample less than `minIntervalNs` after the baseline does not move it and
 *   returns the last rate computed (undefined if none yet), so every rate
 *   returned spans at least that window, and a burst of callers sees one
 *   stable value;
 * - a sample not newer than the baseline (out of order) is ignored the same way;
 * - a counter that went backwards (cgroup recreated under the same key)
 *   restarts from that sample: undefined.
 *
 * Rates are integers (nano-cores), rounded down.
 */
export class CpuRateTracker {
  readonly #minIntervalNs: bigint;
  readonly #baselines = new Map<string, Baseline>();

  constructor(options: CpuRateTrackerOptions = {}) {
    const min = options.minIntervalNs ?? DEFAULT_MIN_INTERVAL_NS;
    if (min < 0n) throw new RangeError('minIntervalNs must not be negative');
    this.#minIntervalNs = min;
  }

  /** Records a sample; returns nano-cores over the window since the baseline, or undefined if none yet. */
  sample(key: string, usageNs: bigint, atNs: bigint): number | undefined {
    const prev = this.#baselines.get(key);
    if (prev === undefined) {
      this.#baselines.set(key, { usageNs, atNs, rate: undefined });
      return undefined;
    }
    const dt = atNs - prev.atNs;
    if (dt <= 0n) return prev.rate;
    if (usageNs < prev.usageNs) {
      this.#baselines.set(key, { usageNs, atNs, rate: undefined });
      return undefined;
    }
    if (dt < this.#minIntervalNs) return prev.rate;
    const rate = Number(((usageNs - prev.usageNs) * 1_000_000_000n) / dt);
    this.#baselines.set(key, { usageNs, atNs, rate });
    return rate;
  }

  /** The last rate computed for a key, without sampling. */
  peek(key: string): number | undefined {
    return this.#baselines.get(key)?.rate;
  }

  forget(key: string): void {
    this.#baselines.delete(key);
  }

  /** Forgets every key not in `live` (containers and sandboxes that are gone). */
  retain(live: Iterable<string>): void {
    const keep = new Set(live);
    for (const key of this.#baselines.keys()) if (!keep.has(key)) this.#baselines.delete(key);
  }

  get size(): number {
    return this.#baselines.size;
  }
}
