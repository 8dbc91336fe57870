// SPDY/3 header blocks: a count, then length-prefixed names and values
// (multiple values joined by NUL), compressed with one zlib stream per
// direction and connection, primed with the SPDY dictionary.
import pako from 'pako';

import { SPDY3_DICTIONARY } from './dictionary.js';

export type HeaderMap = Map<string, string[]>;

/** Reads the peer's header blocks; each block continues the previous one's zlib stream. */
export class HeaderDecoder {
  private readonly inflate = new pako.Inflate({ dictionary: SPDY3_DICTIONARY });
  private chunks: Uint8Array[] = [];

  constructor() {
    this.inflate.onData = (chunk: pako.Data) => this.chunks.push(chunk as Uint8Array);
  }

  decode(block: Buffer): HeaderMap {
    this.chunks = [];
    this.inflate.push(block, pako.constants.Z_SYNC_FLUSH);
    if (this.inflate.err) throw new Error(`SPDY header block: ${this.inflate.msg || `zlib error ${this.inflate.err}`}`);
    return parseHeaderBlock(Buffer.concat(this.chunks));
  }
}

export function parseHeaderBlock(raw: Buffer): HeaderMap {
  const headers: HeaderMap = new Map();
  let at = 0;
  const take = (): Buffer => {
    if (at + 4 > raw.length) throw new Error('SPDY header block is truncated');
    const len = raw.readUInt32BE(at);
    at += 4;
    if (at + len > raw.length) throw new Error('SPDY header block is truncated');
    const v = raw.subarray(at, at + len);
    at += len;
    return v;
  };
  if (raw.length < 4) throw new Error('SPDY header block is truncated');
  const count = raw.readUInt32BE(0);
  at = 4;
  for (let i = 0; i < count; i++) {
    const name = take().toString('latin1').toLowerCase();
    const values = take().toString('latin1').split('\0');
    headers.set(name, [...(headers.get(name) ?? []), ...values]);
  }
  return headers;
}

export function serializeHeaderBlock(headers: Record<string, string>): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32BE(entries.length);
  for (const [k, v] of entries) {
    for (const s of [k.toLowerCase(), v]) {
      const b = Buffer.from(s, 'latin1');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

/**
 * Writes our header blocks as zlib stored (uncompressed) blocks: any zlib
 * reader accepts them, nothing has to be compressed, and each block ends on
 * an empty stored block so the reader has everything without waiting.
 */
export class HeaderEncoder {
  private started = false;

  encode(headers: Record<string, string>): Buffer {
    const raw = serializeHeaderBlock(headers);
    const parts: Buffer[] = [];
    if (!this.started) {
      parts.push(Buffer.from([0x78, 0x01])); // zlib header: deflate, 32 KiB window, no dictionary
      this.started = true;
    }
    for (let at = 0; at < raw.length; at += 0xffff) {
      const piece = raw.subarray(at, at + 0xffff);
      parts.push(storedBlock(piece));
    }
    parts.push(storedBlock(Buffer.alloc(0)));
    return Buffer.concat(parts);
  }
}

/** A non-final stored deflate block: BTYPE 00, byte-aligned, LEN and its complement. */
function storedBlock(data: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 0x00;
  head.writeUInt16LE(data.length, 1);
  head.writeUInt16LE(~data.length & 0xffff, 3);
  return Buffer.concat([head, data]);
}

/** A compressing encoder for our own test clients, as Go's spdystream writes (dictionary-primed zlib). */
export class DictionaryHeaderEncoder {
  private readonly deflate = new pako.Deflate({ dictionary: SPDY3_DICTIONARY });
  private chunks: Uint8Array[] = [];

  constructor() {
    this.deflate.onData = (chunk: pako.Data) => this.chunks.push(chunk as Uint8Array);
  }

  encode(headers: Record<string, string>): Buffer {
    this.chunks = [];
    this.deflate.push(serializeHeaderBlock(headers), pako.constants.Z_SYNC_FLUSH);
    return Buffer.concat(this.chunks);
  }
}
