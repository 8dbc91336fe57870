// One SPDY/3.1 connection, server side: the peer opens streams, we answer
// each at once (a Kubernetes client waits for the reply before opening the
// next), pass their data on, echo pings. No flow control: Go's spdystream
// sends no WINDOW_UPDATE and expects none to be awaited.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

import {
  dataFrame,
  FLAG_FIN,
  type Frame,
  FrameReader,
  FrameType,
  goAwayFrame,
  RstStatus,
  rstStreamFrame,
  streamIdOf,
  synReplyFrame,
} from './frames.js';
import { HeaderDecoder, HeaderEncoder, type HeaderMap } from './header-codec.js';

/** DATA frames we send carry at most this much. */
const MAX_DATA = 32 * 1024;

export interface SpdyStreamEvents {
  /** The peer reset the stream. */
  reset: [];
}

export class SpdyStream extends EventEmitter<SpdyStreamEvents> {
  private finished = false;
  ended = false;

  constructor(
    readonly id: number,
    readonly headers: HeaderMap,
    private readonly session: SpdySession,
  ) {
    super();
  }

  private held: Buffer[] = [];
  private heldEnd = false;
  private consumer: { data(chunk: Buffer): void; end(): void } | undefined;

  /**
   * Hands the peer's data and its end to the callbacks, starting with what
   * arrived before anyone asked (a client may write as soon as its stream is open).
   */
  consume(data: (chunk: Buffer) => void, end: () => void): void {
    this.consumer = { data, end };
    for (const chunk of this.held.splice(0)) data(chunk);
    if (this.heldEnd) end();
  }

  /** @internal the session's delivery of a DATA frame. */
  receive(chunk: Buffer): void {
    if (this.consumer) this.consumer.data(chunk);
    else this.held.push(chunk);
  }

  /** @internal the peer's FIN or reset. */
  receiveEnd(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.consumer) this.consumer.end();
    else this.heldEnd = true;
  }

  header(name: string): string | undefined {
    return this.headers.get(name)?.[0];
  }

  write(data: Buffer): void {
    if (this.finished) return;
    for (let at = 0; at < data.length; at += MAX_DATA) this.session.send(dataFrame(this.id, data.subarray(at, at + MAX_DATA)));
  }

  /** Our side is done (empty DATA with FIN). */
  end(data?: Buffer): void {
    if (this.finished) return;
    if (data?.length) this.write(data);
    this.finished = true;
    this.session.send(dataFrame(this.id, Buffer.alloc(0), true));
  }

  reset(status: RstStatus = RstStatus.Cancel): void {
    this.finished = true;
    this.session.send(rstStreamFrame(this.id, status));
  }
}

export interface SpdySessionEvents {
  stream: [stream: SpdyStream];
  /** The connection is gone (peer closed, GOAWAY, protocol error, or close()). */
  close: [];
}

export class SpdySession extends EventEmitter<SpdySessionEvents> {
  private readonly reader = new FrameReader();
  private readonly decoder = new HeaderDecoder();
  private readonly encoder = new HeaderEncoder();
  private readonly streams = new Map<number, SpdyStream>();
  private lastStreamId = 0;
  private closed = false;

  constructor(private readonly socket: Duplex) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close()); // EPIPE, ECONNRESET: the client is gone
    socket.on('end', () => this.close()); // half-closed by the client: treat it as gone
    socket.on('close', () => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(frame: Buffer): void {
    if (this.closed) return;
    this.socket.write(frame);
  }

  /** GOAWAY, then the socket closed. Safe to repeat. */
  goAway(): void {
    this.send(goAwayFrame(this.lastStreamId));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.emit('close');
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch {
      this.goAway();
      return;
    }
    for (const f of frames) {
      try {
        this.onFrame(f);
      } catch {
        this.goAway();
        return;
      }
    }
  }

  private onFrame(f: Frame): void {
    if (f.kind === 'data') {
      const stream = this.streams.get(f.streamId);
      if (!stream) return;
      if (f.data.length) stream.receive(f.data);
      if (f.flags & FLAG_FIN) stream.receiveEnd();
      return;
    }
    switch (f.type as FrameType) {
      case FrameType.SynStream: {
        const id = streamIdOf(f.payload);
        // Every block continues the zlib stream, so it is decoded even for a stream we refuse.
        const headers = this.decoder.decode(f.payload.subarray(10));
        if (id === 0 || this.streams.has(id)) {
          this.send(rstStreamFrame(id, RstStatus.ProtocolError));
          return;
        }
        this.lastStreamId = Math.max(this.lastStreamId, id);
        const stream = new SpdyStream(id, headers, this);
        this.streams.set(id, stream);
        this.send(synReplyFrame(id, this.encoder.encode({})));
        this.emit('stream', stream);
        if (f.flags & FLAG_FIN) stream.receiveEnd();
        return;
      }
      case FrameType.RstStream: {
        const stream = this.streams.get(streamIdOf(f.payload));
        if (stream) {
          this.streams.delete(stream.id);
          stream.receiveEnd();
          stream.emit('reset');
        }
        return;
      }
      case FrameType.Ping:
        this.send(Buffer.concat([Buffer.from([0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04]), f.payload.subarray(0, 4)]));
        return;
      case FrameType.GoAway:
        this.close();
        return;
      case FrameType.Headers:
        this.decoder.decode(f.payload.subarray(4)); // keep the zlib stream in step
        return;
      default:
        return; // SETTINGS, WINDOW_UPDATE and unknown types need nothing from us
    }
  }
}
