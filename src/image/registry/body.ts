// Reading small response bodies (manifests, tokens, error documents) whole, with a ceiling:
// a registry is remote input, and a hostile or broken one must not make us buffer gigabytes.

import { SkiffError } from '../../errors.js';
import type { HttpResponse } from './transport.js';

/** The whole body, or a FailedPrecondition SkiffError once it passes `limit` bytes. */
export async function readLimited(res: HttpResponse, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) {
      res.body.destroy();
      throw new SkiffError('FailedPrecondition', `${what} from ${res.url.host} exceeds ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
