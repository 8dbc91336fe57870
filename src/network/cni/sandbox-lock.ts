import { SkiffError } from '../../errors.js';

/**
 * Runs tasks one at a time per key (the sandbox id) and concurrently across keys.
 * Plugins keep per-container state (IPAM reservations, iptables chains keyed by
 * container id) that an ADD racing a DEL of the same sandbox would corrupt.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    try {
      await waitOrAbort(prev, signal, key);
      return await task();
    } finally {
      release();
      // Forget the key once nobody queued behind us, so the map does not grow forever.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Number of keys with a running or queued task (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}

// A waiter that gives up still keeps its place in the chain (its release runs in
// `finally`), so the tasks queued behind it stay correctly ordered.
function waitOrAbort(p: Promise<void>, signal: AbortSignal | undefined, key: string): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new SkiffError('Cancelled', `CNI operation on ${key} cancelled while queued`));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(new SkiffError('Cancelled', `CNI operation on ${key} cancelled while queued`));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}
