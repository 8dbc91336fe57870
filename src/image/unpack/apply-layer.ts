// Unpacks one layer blob: socket → decompress → hash (diff ID) → tar → files,
// as one pull-driven pipeline, so memory stays flat whatever the layer's size
// and the network is read no faster than the disk takes it.
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { failedPrecondition, SkiffError } from '../../errors.js';
import { creationDefaults } from './creation-defaults.js';
import { decompressStage } from './decompress.js';
import { entryError, hostError } from './host-error.js';
import { LayerWriter } from './layer-writer.js';
import { readTar } from './tar-reader.js';

export interface ApplyLayerResult {
  /** sha256:<hex> of the uncompressed tar. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
}

/**
 * Streams a (compressed) layer blob into an EMPTY directory in overlayfs diff
 * format. Throws on any unsafe or malformed entry (UnsafeLayerError, kind
 * FailedPrecondition); 'Cancelled' when `signal` aborts. On any throw the
 * directory holds a partial layer: the caller deletes it.
 */
export async function applyLayer(
  input: Readable,
  mediaType: string,
  targetDir: string,
  opts: { signal?: AbortSignal } = {},
): Promise<ApplyLayerResult> {
  const { signal } = opts;
  const hash = createHash('sha256');
  let size = 0;
  try {
    signal?.throwIfAborted();
    await mkdir(targetDir, { recursive: true });
    // Whiteouts and overwrites are only correct against an empty start.
    if ((await readdir(targetDir)).length > 0) throw failedPrecondition(`layer directory ${targetDir} is not empty`);
    const writer = new LayerWriter(targetDir, await creationDefaults(targetDir), signal);

    await pipeline(
      input,
      decompressStage(mediaType),
      async function* digest(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      async function unpack(source: AsyncIterable<Buffer>): Promise<void> {
        try {
          for await (const entry of readTar(source)) {
            signal?.throwIfAborted();
            try {
              await writer.write(entry);
            } catch (err) {
              throw entryError(err, entry.header.name);
            }
          }
          await writer.finish();
        } finally {
          await writer.settle(); // on failure too: nothing may write once we return
        }
      },
      ...(signal ? [{ signal }] : []),
    );
  } catch (err) {
    if (signal?.aborted) throw new SkiffError('Cancelled', 'layer unpack aborted', { cause: signal.reason });
    throw hostError(err, 'unpacking layer');
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}
