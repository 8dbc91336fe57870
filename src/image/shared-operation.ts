import { SkiffError } from '../errors.js';

interface Entry<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

/**
 * Runs one operation per key however many callers ask for it at once (two pulls
 * of the same image share one download). Each caller can give up on its own
 * signal; the shared work is aborted only when every caller has given up.
 */
export class SharedOperations<T> {
  private readonly running = new Map<string, Entry<T>>();

  run(key: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let entry = this.running.get(key);
    if (!entry) {
      const controller = new AbortController();
      const created: Entry<T> = { controller, waiters: 0, promise: Promise.resolve() as Promise<T> };
      created.promise = (async () => work(controller.signal))().finally(() => {
        if (this.running.get(key) === created) this.running.delete(key);
      });
      created.promise.catch(() => undefined);
      this.running.set(key, created);
      entry = created;
    }
    return this.wait(entry, signal);
  }

  /** Keys with work in flight (for garbage collection to leave alone). */
  keys(): string[] {
    return [...this.running.keys()];
  }

  private wait(entry: Entry<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    entry.waiters++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        entry.waiters--;
        if (entry.waiters === 0) entry.controller.abort(signal.reason);
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          entry.waiters--;
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          entry.waiters--;
          reject(err);
        },
      );
    });
  }
}

export function abortReason(signal: AbortSignal): SkiffError {
  const reason: unknown = signal.reason;
  return reason instanceof SkiffError ? reason : new SkiffError('Cancelled', reason instanceof Error ? reason.message : 'cancelled');
}
