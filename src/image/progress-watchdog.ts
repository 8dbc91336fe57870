import { Transform, type TransformCallback } from 'node:stream';

import { SkiffError } from '../errors.js';

/**
 * Passes bytes through and fails the stream when none arrive for `idleMs`: a
 * stalled registry connection becomes an error instead of a pull that hangs.
 */
export class ProgressWatchdog extends Transform {
  private timer: NodeJS.Timeout;

  constructor(
    private readonly idleMs: number,
    private readonly what: string,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.timer = this.arm();
  }

  private arm(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.destroy(new SkiffError('DeadlineExceeded', `${this.what}: no progress for ${Math.round(this.idleMs / 1000)} s`));
    }, this.idleMs);
    timer.unref();
    return timer;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.timer.refresh();
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    clearTimeout(this.timer);
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    callback(err);
  }
}
