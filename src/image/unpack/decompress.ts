// Turns a layer blob into its uncompressed tar stream, as a pipeline stage.
// The magic bytes decide, the media type only breaks ties: registries and
// old tools mislabel layers (a plain tar served as +gzip and the reverse), and
// a tar cannot start with either magic since its first bytes are a file name.
import { pipeline as pipelineCb, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { Decompress } from 'fzstd';

import { unimplemented } from '../../errors.js';
import { UnsafeLayerError } from './unsafe-layer-error.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const SNIFF_BYTES = ZSTD_MAGIC.length;
/** Larger than zlib's 16 KiB default: fewer, bigger writes on the way to disk. */
const GUNZIP_CHUNK = 64 * 1024;
/**
 * fzstd decodes every complete block of a push synchronously, with no way to
 * pause. A 4-byte RLE block expands to 128 KiB, so feeding 1 KiB at a time
 * bounds one push's output to ~32 MiB even for a hostile stream.
 */
const ZSTD_FEED = 1024;

/** What the media type says; 'unsupported' for a layer type we cannot decode, undefined if it says nothing. */
export function declaredCompression(mediaType: string): Compression | 'unsupported' | undefined {
  const mt = mediaType.toLowerCase();
  if (mt.endsWith('+gzip') || mt.endsWith('.tar.gzip') || mt.endsWith('.tar.gz')) return 'gzip';
  if (mt.endsWith('+zstd')) return 'zstd';
  if (mt.endsWith('.tar')) return 'none';
  if (/\.tar[+.]/.test(mt)) return 'unsupported'; // +bzip2, +encrypted, .tar.xz…
  return undefined;
}

export function sniffCompression(head: Buffer): Compression | undefined {
  const starts = (magic: number[]): boolean => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return undefined;
}

/** A pipeline stage: compressed chunks in, uncompressed tar chunks out, pulled on demand. */
export function decompressStage(mediaType: string): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  const declared = declaredCompression(mediaType);
  return async function* decompress(source) {
    const it = source[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let headLength = 0;
    let ended = false;
    while (headLength < SNIFF_BYTES) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head.push(r.value);
      headLength += r.value.length;
    }
    const sniffed = sniffCompression(Buffer.concat(head, headLength));
    if (sniffed === undefined && declared === 'unsupported') throw unimplemented(`layer media type ${mediaType} is not supported`);
    const kind = sniffed ?? 'none';

    // The peeked chunks, then the rest of the source, without buffering.
    async function* replay(): AsyncGenerator<Buffer> {
      yield* head;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }

    if (kind === 'gzip') yield* gunzip(replay());
    else if (kind === 'zstd') yield* unzstd(replay());
    else yield* replay();
  };
}

async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createGunzip({ chunkSize: GUNZIP_CHUNK });
  // Errors on either side destroy z, so they surface through the iteration below;
  // the callback only keeps pipeline from reporting them a second time.
  pipelineCb(Readable.from(source, { objectMode: false }), z, () => {});
  try {
    for await (const chunk of z as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    throw isZlibError(err) ? new UnsafeLayerError(undefined, `corrupt gzip stream: ${(err as Error).message}`, { cause: err }) : err;
  }
}

function isZlibError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
}

async function* unzstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  // fzstd allocates a fresh array per block in streaming mode, so keeping views is safe.
  const d = new Decompress((data) => {
    if (data.length) out.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  });
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      d.push(chunk, final);
    } catch (err) {
      throw new UnsafeLayerError(undefined, `corrupt zstd stream: ${(err as Error).message}`, { cause: err });
    }
  };
  for await (const chunk of source) {
    for (let off = 0; off < chunk.length; off += ZSTD_FEED) {
      push(chunk.subarray(off, off + ZSTD_FEED), false);
      while (out.length) yield out.shift()!;
    }
  }
  push(new Uint8Array(0), true);
  while (out.length) yield out.shift()!;
}
