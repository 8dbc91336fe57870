// Collects a child's output stream up to a byte limit and keeps draining the
// rest: a pipe that is not read stalls the writer, so dropping bytes is the
// only bounded way to let a chatty process finish.

export class CappedSink {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** Bytes seen in total, kept or not. */
  total = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.limit - this.kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  buffer(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }
}
