// SPDY/3.1 framing (what Kubernetes' streaming clients speak): an 8-byte
// header, then the payload. Control frames carry version 3 and a type; data
// frames a stream id. Header blocks are zlib-compressed (header-codec.ts).

export const SPDY_VERSION = 3;
export const FLAG_FIN = 0x01;

export const enum FrameType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}

export const enum RstStatus {
  ProtocolError = 1,
  InvalidStream = 2,
  RefusedStream = 3,
  Cancel = 5,
  InternalError = 6,
}

export type Frame =
  { kind: 'data'; streamId: number; flags: number; data: Buffer } | { kind: 'control'; type: number; flags: number; payload: Buffer };

const HEADER = 8;
/** Larger frames are a broken or hostile peer; Kubernetes clients send at most 32 KiB of data. */
export const MAX_FRAME_PAYLOAD = 1 << 20;

/**
 * Accumulates bytes and yields complete frames. Throws on a frame larger
 * than MAX_FRAME_PAYLOAD or a control frame of another version.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= HEADER) {
      const length = this.buf.readUIntBE(5, 3);
      if (length > MAX_FRAME_PAYLOAD) throw new Error(`SPDY frame of ${length} bytes is too large`);
      if (this.buf.length < HEADER + length) break;
      const first = this.buf.readUInt32BE(0);
      const flags = this.buf[4] ?? 0;
      const payload = this.buf.subarray(HEADER, HEADER + length);
      this.buf = this.buf.subarray(HEADER + length);
      if (first & 0x80000000) {
        const version = (first >>> 16) & 0x7fff;
        if (version !== SPDY_VERSION) throw new Error(`SPDY version ${version} is not 3`);
        out.push({ kind: 'control', type: first & 0xffff, flags, payload });
      } else {
        out.push({ kind: 'data', streamId: first & 0x7fffffff, flags, data: payload });
      }
    }
    return out;
  }
}

function frame(first: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32BE(first >>> 0, 0);
  head.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

export function controlFrame(type: FrameType, flags: number, payload: Buffer): Buffer {
  return frame(((0x8000 | SPDY_VERSION) << 16) | type, flags, payload);
}

export function dataFrame(streamId: number, data: Buffer, fin = false): Buffer {
  return frame(streamId & 0x7fffffff, fin ? FLAG_FIN : 0, data);
}

const u32 = (...values: number[]): Buffer => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
};

export function synStreamFrame(streamId: number, headerBlock: Buffer, flags = 0, associated = 0, priority = 0): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
  fixed.writeUInt32BE(associated & 0x7fffffff, 4);
  fixed[8] = (priority & 0x7) << 5;
  return controlFrame(FrameType.SynStream, flags, Buffer.concat([fixed, headerBlock]));
}

export function synReplyFrame(streamId: number, headerBlock: Buffer, flags = 0): Buffer {
  return controlFrame(FrameType.SynReply, flags, Buffer.concat([u32(streamId & 0x7fffffff), headerBlock]));
}

export function rstStreamFrame(streamId: number, status: RstStatus): Buffer {
  return controlFrame(FrameType.RstStream, 0, u32(streamId & 0x7fffffff, status));
}

export function pingFrame(id: number): Buffer {
  return controlFrame(FrameType.Ping, 0, u32(id));
}

export function goAwayFrame(lastGoodStreamId: number, status = 0): Buffer {
  return controlFrame(FrameType.GoAway, 0, u32(lastGoodStreamId & 0x7fffffff, status));
}

export function settingsFrame(entries: { id: number; value: number; flags?: number }[]): Buffer {
  const body = [u32(entries.length)];
  for (const e of entries) body.push(u32((((e.flags ?? 0) & 0xff) << 24) | (e.id & 0xffffff), e.value));
  return controlFrame(FrameType.Settings, 0, Buffer.concat(body));
}

export function windowUpdateFrame(streamId: number, delta: number): Buffer {
  return controlFrame(FrameType.WindowUpdate, 0, u32(streamId & 0x7fffffff, delta & 0x7fffffff));
}

/** The stream id at the start of a SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS or WINDOW_UPDATE payload. */
export const streamIdOf = (payload: Buffer): number => (payload.length >= 4 ? payload.readUInt32BE(0) & 0x7fffffff : 0);
