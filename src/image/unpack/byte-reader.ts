// Pull-based reads of exact byte counts from an async stream of chunks. Pulling
// (rather than being pushed 'data') is what gives the unpacker backpressure
// for free: nothing is read from the socket until the disk has taken the last
// chunk. Slices are views into the source chunks; nothing is copied unless a
// read spans chunks.
import { UnsafeLayerError } from './unsafe-layer-error.js';

export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async pull(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }

  /** Exactly n bytes; null if the stream ends cleanly before the first byte; throws if it ends midway. */
  async readExact(n: number): Promise<Buffer | null> {
    if (this.buf.length < n) {
      // Gather the chunks and join once, so a large read is not quadratic.
      const parts = [this.buf];
      let have = this.buf.length;
      while (have < n && !this.done) {
        const r = await this.it.next();
        if (r.done) this.done = true;
        else {
          parts.push(r.value);
          have += r.value.length;
        }
      }
      this.buf = Buffer.concat(parts, have);
      if (have === 0) return null;
      if (have < n) throw truncated();
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next 1..max bytes, as they arrive; throws if the stream has ended. */
  async chunk(max: number): Promise<Buffer> {
    if (this.buf.length === 0 && !(await this.pull())) throw truncated();
    const out = this.buf.subarray(0, Math.min(max, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.chunk(n)).length;
  }

  /** Reads to the end, discarding: the diff ID covers every byte, even after the archive's end marker. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.pull()) this.buf = Buffer.alloc(0);
  }
}

const truncated = (): UnsafeLayerError => new UnsafeLayerError(undefined, 'truncated tar stream');
