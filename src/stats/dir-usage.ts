import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';

export interface DirUsage {
  /** Allocated bytes (st_blocks * 512), each inode once. */
  bytes: number;
  /** Distinct inodes, the root included. */
  inodes: number;
}

export interface DirUsageOptions {
  signal?: AbortSignal;
  /** File system operations in flight at once (default 16; libuv runs 4 at a time by default). */
  concurrency?: number;
}

const SLASH = Buffer.from('/');

function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function limiter(n: number, signal: AbortSignal | undefined): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      signal?.throwIfAborted();
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * Disk usage of a tree, as `du -x --apparent-size=no` and `du --inodes` see
 * it: for a container's writable layer (overlay upperdir).
 *
 * - symlinks are counted as themselves, never followed;
 * - a file with several hard links inside the tree is counted once;
 * - directories on another file system (mounts inside the tree) are skipped;
 * - entries that vanish mid-walk (the container is writing) are skipped;
 * - names are handled as bytes, so non-UTF-8 file names are counted too.
 *
 * Rejects if the root itself cannot be stat'ed (e.g. ENOENT), on other I/O
 * errors, or with the signal's reason when aborted.
 */
export async function dirUsage(path: string, options: DirUsageOptions = {}): Promise<DirUsage> {
  const { signal } = options;
  signal?.throwIfAborted();
  const limit = limiter(Math.max(1, options.concurrency ?? 16), signal);
  const rootStat = await lstat(path, { bigint: true });
  const dev = rootStat.dev;
  const linked = new Set<bigint>();
  let blocks = 0n;
  let inodes = 0;

  const account = (st: BigIntStats): void => {
    if (st.nlink > 1n && !st.isDirectory()) {
      if (linked.has(st.ino)) return;
      linked.add(st.ino);
    }
    blocks += st.blocks;
    inodes++;
  };

  const walk = async (dir: Buffer): Promise<void> => {
    let names: Buffer[];
    try {
      names = await limit(() => readdir(dir, { encoding: 'buffer' }));
    } catch (err) {
      if (vanished(err)) return;
      throw err;
    }
    await Promise.all(
      names.map(async (name) => {
        const child = Buffer.concat([dir, SLASH, name]);
        let st: BigIntStats;
        try {
          st = await limit(() => lstat(child, { bigint: true }));
        } catch (err) {
          if (vanished(err)) return;
          throw err;
        }
        if (st.dev !== dev) return;
        account(st);
        if (st.isDirectory()) await walk(child);
      }),
    );
  };

  account(rootStat);
  if (rootStat.isDirectory()) await walk(Buffer.from(path.length > 1 ? path.replace(/\/+$/, '') : path));
  return { bytes: Number(blocks * 512n), inodes };
}

export interface UsageCacheOptions {
  /** How long a result is served without walking again (default 10 s). */
  ttlMs?: number;
  /**
   * Serve an expired result at once and refresh it in the background
   * (default true), so callers on a hot path only wait for a path's first walk.
   */
  staleWhileRevalidate?: boolean;
  /**
   * How many background refreshes walk at once (default 2). Each walk keeps
   * up to 16 file system calls in flight on Node's small thread pool; a
   * hundred at once would queue every other file read of the daemon (the
   * cgroup reads of the stats answers among them) behind them.
   */
  backgroundWalks?: number;
  /** For tests: the clock, in milliseconds. */
  now?: () => number;
  /** For tests: what measures a path (default dirUsage). */
  measure?: (path: string) => Promise<DirUsage>;
}

interface Slot {
  value: DirUsage | undefined;
  /** When value was measured, or when the last refresh failed (backs off retries). */
  at: number;
  inflight: Promise<DirUsage> | undefined;
  /** Waiting in the background refresh queue. */
  queued?: boolean;
}

/**
 * dirUsage results per path with a TTL, so repeated ListContainerStats calls
 * do not walk writable layers each time. Concurrent requests for one path
 * share a single walk. A path that disappears is dropped; on any other error
 * the previous value is kept and the next walk waits for the TTL.
 */
export class UsageCache {
  readonly #ttlMs: number;
  readonly #swr: boolean;
  readonly #now: () => number;
  readonly #measure: (path: string) => Promise<DirUsage>;
  readonly #slots = new Map<string, Slot>();
  readonly #backgroundWalks: number;
  /** Paths waiting for a background refresh, in the order they went stale. */
  readonly #queue: string[] = [];
  #walking = 0;

  constructor(options: UsageCacheOptions = {}) {
    this.#backgroundWalks = Math.max(1, options.backgroundWalks ?? 2);
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#swr = options.staleWhileRevalidate ?? true;
    this.#now = options.now ?? Date.now;
    this.#measure = options.measure ?? ((p) => dirUsage(p));
  }

  /** The usage of a path: cached if fresh; if stale, see staleWhileRevalidate. */
  get(path: string): Promise<DirUsage> {
    const slot = this.#slots.get(path);
    if (slot?.value !== undefined) {
      if (this.#now() - slot.at < this.#ttlMs) return Promise.resolve(slot.value);
      if (this.#swr) {
        this.#refreshLater(path, slot);
        return Promise.resolve(slot.value);
      }
    }
    return this.refresh(path);
  }

  /** The cached value, however old, without touching the disk. */
  peek(path: string): DirUsage | undefined {
    return this.#slots.get(path)?.value;
  }

  /** Walks the path now (or joins the walk in flight) and caches the result. */
  refresh(path: string): Promise<DirUsage> {
    let slot = this.#slots.get(path);
    if (slot?.inflight) return slot.inflight;
    if (!slot) {
      slot = { value: undefined, at: 0, inflight: undefined };
      this.#slots.set(path, slot);
    }
    const own = slot;
    const p = this.#measure(path).then(
      (value) => {
        own.inflight = undefined;
        if (this.#slots.get(path) === own) {
          own.value = value;
          own.at = this.#now();
        }
        return value;
      },
      (err: unknown) => {
        own.inflight = undefined;
        if (this.#slots.get(path) === own) {
          if (own.value === undefined || vanished(err)) this.#slots.delete(path);
          else own.at = this.#now();
        }
        throw err;
      },
    );
    own.inflight = p;
    return p;
  }

  /** Queues a background refresh (once per path) and starts walks up to the limit. */
  #refreshLater(path: string, slot: Slot): void {
    if (slot.inflight || slot.queued) return;
    slot.queued = true;
    this.#queue.push(path);
    this.#drain();
  }

  #drain(): void {
    while (this.#walking < this.#backgroundWalks && this.#queue.length) {
      const path = this.#queue.shift()!;
      const slot = this.#slots.get(path);
      if (!slot?.queued) continue; // forgotten meanwhile
      slot.queued = false;
      this.#walking++;
      this.refresh(path)
        .catch(() => {})
        .finally(() => {
          this.#walking--;
          this.#drain();
        });
    }
  }

  forget(path: string): void {
    this.#slots.delete(path);
  }

  clear(): void {
    this.#slots.clear();
  }

  get size(): number {
    return this.#slots.size;
  }
}
