import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { errnoCode, SkiffError } from '../errors.js';
import { fsyncDir } from '../store/atomic-file.js';

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new SkiffError('InvalidArgument', `unsupported digest "${digest}" (only sha256 is supported)`);
  return m[1]!;
}

export function sha256Digest(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** Thrown when bytes do not hash to the digest they were fetched as. */
export class DigestMismatchError extends SkiffError {
  constructor(expected: string, actual: string, what: string) {
    super('FailedPrecondition', `${what}: digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/**
 * Blobs by digest under <root>/content. Writes land in an ingest file, are
 * hashed on the way, fsynced, and renamed into place only when the digest
 * matches: a blob in the store is always complete and verified.
 */
export class ContentStore {
  private readonly blobsDir: string;
  private readonly ingestDir: string;

  constructor(root: string) {
    this.blobsDir = path.join(root, 'content', 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'content', 'ingest');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.blobsDir, { recursive: true });
    // Ingests never survive a restart: they belong to pulls that died with the daemon.
    await fs.rm(this.ingestDir, { recursive: true, force: true });
    await fs.mkdir(this.ingestDir, { recursive: true });
  }

  blobPath(digest: string): string {
    return path.join(this.blobsDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fs.access(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async read(digest: string): Promise<Buffer> {
    return fs.readFile(this.blobPath(digest));
  }

  openRead(digest: string): Readable {
    return createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20 });
  }

  /** Stores small, already-fetched bytes (manifests, configs) after checking their digest. */
  async putVerified(digest: string, bytes: Uint8Array, what: string): Promise<void> {
    const actual = sha256Digest(bytes);
    if (actual !== digest) throw new DigestMismatchError(digest, actual, what);
    if (await this.has(digest)) return;
    const tmp = path.join(this.ingestDir, `${digestHex(digest)}.${randomBytes(4).toString('hex')}`);
    const handle = await fs.open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, this.blobPath(digest));
    await fsyncDir(this.blobsDir);
  }

  /**
   * A pass-through stream that also writes what flows through it to an ingest
   * file and hashes it. `commit()` after the end verifies and publishes the blob;
   * `abort()` drops the ingest.
   */
  createIngest(digest: string, what: string, expectedSize?: number): BlobIngest {
    return new BlobIngest(
      path.join(this.ingestDir, `${digestHex(digest)}.${randomBytes(4).toString('hex')}`),
      this.blobPath(digest),
      digest,
      what,
      expectedSize,
    );
  }

  async delete(digest: string): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
  }

  /** Every stored digest. */
  async list(): Promise<string[]> {
    const names = await fs.readdir(this.blobsDir).catch((err: unknown) => (errnoCode(err) === 'ENOENT' ? [] : Promise.reject(err)));
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }
}

export class BlobIngest extends Transform {
  private readonly hash = createHash('sha256');
  private readonly file;
  private bytes = 0;
  private fileDone: Promise<void>;

  constructor(
    private readonly tmpPath: string,
    private readonly finalPath: string,
    private readonly digest: string,
    private readonly what: string,
    private readonly expectedSize: number | undefined,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.file = createWriteStream(tmpPath, { mode: 0o644, flush: true });
    this.fileDone = new Promise((resolve, reject) => {
      this.file.once('finish', resolve);
      this.file.once('error', reject);
    });
    this.fileDone.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      callback(new SkiffError('FailedPrecondition', `${this.what}: more bytes than the ${this.expectedSize} its descriptor declares`));
      return;
    }
    this.hash.update(chunk);
    // Respect the file's backpressure as well as the consumer's.
    if (this.file.write(chunk)) callback(null, chunk);
    else this.file.once('drain', () => callback(null, chunk));
  }

  override _flush(callback: TransformCallback): void {
    this.file.end();
    callback();
  }

  /** Verifies the digest (and size) of everything that passed, then publishes the blob. */
  async commit(): Promise<void> {
    await this.fileDone;
    const actual = 'sha256:' + this.hash.digest('hex');
    if (actual !== this.digest) {
      await this.abort();
      throw new DigestMismatchError(this.digest, actual, this.what);
    }
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) {
      await this.abort();
      throw new SkiffError('FailedPrecondition', `${this.what}: size mismatch: descriptor says ${this.expectedSize}, got ${this.bytes}`);
    }
    await fs.rename(this.tmpPath, this.finalPath);
    await fsyncDir(path.dirname(this.finalPath));
  }

  async abort(): Promise<void> {
    this.file.destroy();
    await fs.rm(this.tmpPath, { force: true });
  }
}

/** Downloads a whole stream into the store (used when nothing else consumes it). */
export async function ingestStream(
  store: ContentStore,
  source: Readable,
  digest: string,
  what: string,
  size?: number,
  signal?: AbortSignal,
): Promise<void> {
  const ingest = store.createIngest(digest, what, size);
  try {
    await pipeline(
      source,
      ingest,
      async (s: AsyncIterable<Buffer>) => {
        for await (const _ of s) {
          /* drain */
        }
      },
      signal ? { signal } : {},
    );
    await ingest.commit();
  } catch (err) {
    await ingest.abort();
    throw err;
  }
}
