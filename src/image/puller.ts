import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { SkiffError } from '../errors.js';
import type { Logger } from '../log.js';
import { chainIds } from '../snapshot/chain-id.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';
import { type ContentStore, DigestMismatchError, sha256Digest } from './content-store.js';
import { IMAGE_RECORD_VERSION, type ImageLayer, type ImageRecord, type ImageStore } from './image-store.js';
import { type ImageConfig, type ImageIndex, type ImageManifest, MEDIA } from './oci-types.js';
import { selectManifest } from './platform.js';
import { ProgressWatchdog } from './progress-watchdog.js';
import { formatReference, type ImageReference, repositoryOf } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import type { RegistryCredentials } from './registry/credentials.js';
import { SharedOperations } from './shared-operation.js';
import { applyLayer } from './unpack/apply-layer.js';

export interface PullerOptions {
  registry: RegistryClient;
  content: ContentStore;
  snapshots: OverlaySnapshotter;
  images: ImageStore;
  log: Logger;
  /** Layers fetched and unpacked at once per pull. */
  layerConcurrency: number;
  /** A download with no bytes for this long fails. */
  progressTimeoutMs: number;
}

const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;
const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerManifestList]);
const LAYER_TYPES = new Set<string>([
  MEDIA.ociLayer,
  MEDIA.ociLayerGzip,
  MEDIA.ociLayerZstd,
  MEDIA.ociLayerNondistGzip,
  MEDIA.dockerLayerGzip,
  MEDIA.dockerForeignLayerGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    throw new SkiffError('FailedPrecondition', `${what} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Pull pipeline: reference → manifest (through an index if needed) → config →
 * layers streamed from the registry, in parallel, through digest check,
 * decompression and untar straight into snapshot directories. Concurrent pulls
 * of the same reference, and of the same layer, share one download.
 */
export class ImagePuller {
  private readonly pulls = new SharedOperations<ImageRecord>();
  private readonly layers = new SharedOperations<void>();
  /** Digests and chain IDs that in-flight pulls are writing or depend on: GC leaves them alone. */
  private readonly leased = new Map<string, number>();

  constructor(private readonly o: PullerOptions) {}

  isLeased(key: string): boolean {
    return (this.leased.get(key) ?? 0) > 0;
  }

  pull(ref: ImageReference, credentials: RegistryCredentials | undefined, signal: AbortSignal): Promise<ImageRecord> {
    return this.pulls.run(formatReference(ref), signal, (shared) => this.doPull(ref, credentials, shared));
  }

  private lease(keys: string[]): () => void {
    for (const k of keys) this.leased.set(k, (this.leased.get(k) ?? 0) + 1);
    return () => {
      for (const k of keys) {
        const n = (this.leased.get(k) ?? 1) - 1;
        if (n <= 0) this.leased.delete(k);
        else this.leased.set(k, n);
      }
    };
  }

  private async doPull(ref: ImageReference, credentials: RegistryCredentials | undefined, signal: AbortSignal): Promise<ImageRecord> {
    const name = formatReference(ref);
    const opts = { ...(credentials ? { credentials } : {}), signal };
    const releases: (() => void)[] = [];
    try {
      const top = await this.o.registry.getManifest(ref, ref.digest ?? ref.tag ?? 'latest', opts);
      releases.push(this.lease([top.digest]));
      await this.o.content.putVerified(top.digest, top.bytes, `manifest of ${name}`);
      let manifestDigest = top.digest;
      let manifestBytes = top.bytes;
      let indexDigest: string | undefined;
      const topDoc = parseJson<ImageIndex & ImageManifest>(top.bytes, `manifest of ${name}`);
      if (INDEX_TYPES.has(top.mediaType) || (topDoc.manifests !== undefined && topDoc.config === undefined)) {
        indexDigest = top.digest;
        const chosen = selectManifest(topDoc);
        const m = await this.o.registry.getManifest(ref, chosen.digest, opts);
        releases.push(this.lease([m.digest]));
        await this.o.content.putVerified(m.digest, m.bytes, `manifest ${m.digest} of ${name}`);
        manifestDigest = m.digest;
        manifestBytes = m.bytes;
      }
      const manifest = parseJson<ImageManifest>(manifestBytes, `manifest ${manifestDigest}`);
      if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) {
        throw new SkiffError('FailedPrecondition', `manifest ${manifestDigest} of ${name} is not an image manifest`);
      }
      for (const l of manifest.layers) {
        if (!LAYER_TYPES.has(l.mediaType))
          throw new SkiffError('FailedPrecondition', `layer ${l.digest} of ${name} has unsupported media type ${l.mediaType}`);
      }

      releases.push(this.lease([manifest.config.digest]));
      const configBytes = await this.fetchSmallBlob(ref, manifest.config.digest, manifest.config.size, `config of ${name}`, opts);
      const config = parseJson<ImageConfig>(configBytes, `config ${manifest.config.digest}`);
      const diffIds = config.rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
        throw new SkiffError(
          'FailedPrecondition',
          `config of ${name} lists ${diffIds?.length ?? 0} diff IDs for ${manifest.layers.length} layers`,
        );
      }
      const chains = chainIds(diffIds);
      const layers: ImageLayer[] = manifest.layers.map((l, i) => ({
        digest: l.digest,
        mediaType: l.mediaType,
        size: l.size,
        diffId: diffIds[i]!,
        chainId: chains[i]!,
      }));
      releases.push(this.lease(layers.flatMap((l) => [l.digest, l.chainId])));

      await this.unpackAll(ref, layers, opts);

      const record: ImageRecord = {
        version: IMAGE_RECORD_VERSION,
        id: manifest.config.digest,
        repoTags: ref.tag !== undefined && ref.digest === undefined ? [formatReference({ ...ref, digest: undefined })] : [],
        repoDigests: [`${repositoryOf(ref)}@${top.digest}`],
        manifestDigest,
        ...(indexDigest ? { indexDigest } : {}),
        configDigest: manifest.config.digest,
        layers,
        size: manifest.config.size + layers.reduce((n, l) => n + l.size, 0),
        config,
        pulledAt: new Date().toISOString(),
      };
      const existing = this.o.images.get(record.id);
      if (existing) {
        record.repoTags = [...new Set([...existing.repoTags, ...record.repoTags])];
        record.repoDigests = [...new Set([...existing.repoDigests, ...record.repoDigests])];
      }
      await this.o.images.put(record);
      return record;
    } finally {
      for (const release of releases) release();
    }
  }

  private async fetchSmallBlob(
    ref: ImageReference,
    digest: string,
    size: number,
    what: string,
    opts: { credentials?: RegistryCredentials; signal: AbortSignal },
  ): Promise<Buffer> {
    if (await this.o.content.has(digest)) return this.o.content.read(digest);
    if (size > MAX_DOCUMENT_BYTES)
      throw new SkiffError('FailedPrecondition', `${what} is ${size} bytes, over the ${MAX_DOCUMENT_BYTES} limit`);
    const blob = await this.o.registry.getBlob(ref, digest, opts);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of blob.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_DOCUMENT_BYTES) throw new SkiffError('FailedPrecondition', `${what} exceeds ${MAX_DOCUMENT_BYTES} bytes`);
      chunks.push(chunk);
    }
    const bytes = Buffer.concat(chunks);
    if (sha256Digest(bytes) !== digest) throw new DigestMismatchError(digest, sha256Digest(bytes), what);
    await this.o.content.putVerified(digest, bytes, what);
    return bytes;
  }

  /** Unpacks every missing layer, `layerConcurrency` at a time; the first failure aborts the rest. */
  private async unpackAll(
    ref: ImageReference,
    layers: ImageLayer[],
    opts: { credentials?: RegistryCredentials; signal: AbortSignal },
  ): Promise<void> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(opts.signal.reason);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const queue = layers.map((layer, i) => ({ layer, parent: i === 0 ? undefined : layers[i - 1]!.chainId }));
    let failure: unknown;
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next && failure === undefined; next = queue.shift()) {
        const { layer, parent } = next;
        if (this.o.snapshots.get(layer.chainId)) continue;
        try {
          await this.layers.run(layer.chainId, controller.signal, (signal) => this.unpackLayer(ref, layer, parent, { ...opts, signal }));
        } catch (err) {
          failure ??= err;
          controller.abort(err);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, this.o.layerConcurrency) }, worker));
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
    }
    if (failure !== undefined) throw opts.signal.aborted ? opts.signal.reason : failure;
  }

  private async unpackLayer(
    ref: ImageReference,
    layer: ImageLayer,
    parent: string | undefined,
    opts: { credentials?: RegistryCredentials; signal: AbortSignal },
  ): Promise<void> {
    if (this.o.snapshots.get(layer.chainId)) return;
    const what = `layer ${layer.digest} of ${formatReference(ref)}`;
    const dir = await this.o.snapshots.prepareUnpackDir();
    let ingest: ReturnType<ContentStore['createIngest']> | undefined;
    let download: Promise<void> | undefined;
    let downloadError: unknown;
    let out: PassThrough | undefined;
    try {
      let source: Readable;
      if (await this.o.content.has(layer.digest)) {
        source = this.o.content.openRead(layer.digest);
      } else {
        const blob = await this.o.registry.getBlob(ref, layer.digest, opts);
        ingest = this.o.content.createIngest(layer.digest, what, layer.size);
        out = new PassThrough({ highWaterMark: 1 << 20 });
        download = pipeline(blob.body, new ProgressWatchdog(this.o.progressTimeoutMs, what), ingest, out, { signal: opts.signal });
        download.catch((err: unknown) => (downloadError ??= err));
        source = out;
      }
      const result = await applyLayer(source, layer.mediaType, path.join(dir, 'fs'), { signal: opts.signal });
      if (download) {
        // The tar may end before the blob does (padding): drain the rest so the whole blob is hashed.
        out!.resume();
        await download;
        await ingest!.commit();
      }
      if (result.diffId !== layer.diffId) {
        throw new SkiffError(
          'FailedPrecondition',
          `${what}: content does not match the image config (diff ID ${result.diffId}, expected ${layer.diffId})`,
        );
      }
      await this.o.snapshots.commit(layer.chainId, parent, dir, result.size);
    } catch (err) {
      // A download failure (stall, abort, network) that came first explains the unpack error it caused.
      const cause = downloadError ?? err;
      out?.destroy();
      if (download) await download.catch(() => undefined);
      await ingest?.abort();
      await fs.rm(dir, { recursive: true, force: true });
      throw cause;
    }
  }
}
