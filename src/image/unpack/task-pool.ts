// A bounded set of concurrent async tasks. Unpacking small files is bound by
// the latency of Node's threadpool (one round trip per open/chown/chmod/
// utimes/close), not by the disk: keeping several files in flight hides it.
export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failed = false;
  private failure: unknown;

  constructor(private readonly limit: number) {}

  /** Starts `task` once a slot is free. Throws the failure of an earlier task, if any. */
  async run(task: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.throwIfFailed();
    const p: Promise<void> = task()
      .catch((err: unknown) => {
        if (!this.failed) {
          this.failed = true;
          this.failure = err;
        }
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Waits for every running task; throws the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  /** Waits for every running task, whatever the outcome: nothing may still write once the caller gives up. */
  async settle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}
