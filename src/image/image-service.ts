import path from 'node:path';

import { SkiffError } from '../errors.js';
import type { Logger } from '../log.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';
import type { ContentStore } from './content-store.js';
import { type DiskUsage, diskUsage, mountPointOf } from './disk-usage.js';
import type { ImageRecord, ImageStore } from './image-store.js';
import type { ImagePuller } from './puller.js';
import { formatReference, parseReference, repositoryOf } from './reference.js';
import type { RegistryCredentials } from './registry/credentials.js';

const FULL_ID = /^(sha256:)?[a-f0-9]{64}$/;
const SHORT_ID = /^[a-f0-9]{4,63}$/;
const FS_INFO_TTL_MS = 5000;

export interface ImageFsUsage extends DiskUsage {
  mountpoint: string;
  timestamp: number;
}

/**
 * The image domain: pull, look up, list, remove (with garbage collection of
 * content and snapshots no image uses), and the image filesystem's usage.
 */
export class ImageService {
  private readonly pinnedName: string | undefined;
  private fsCache: { at: number; usage: Promise<ImageFsUsage> } | undefined;
  /** Serialises removals and GC so two never race on the same files. */
  private gcChain: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: string,
    private readonly images: ImageStore,
    private readonly content: ContentStore,
    private readonly snapshots: OverlaySnapshotter,
    private readonly puller: ImagePuller,
    private readonly log: Logger,
    pauseImage: string,
  ) {
    try {
      this.pinnedName = formatReference(parseReference(pauseImage));
    } catch {
      this.pinnedName = undefined;
    }
  }

  async pull(
    reference: string,
    credentials: RegistryCredentials | undefined,
    signal: AbortSignal,
    log: Logger = this.log,
  ): Promise<ImageRecord> {
    const ref = parseReference(reference);
    const started = Date.now();
    try {
      const record = await this.puller.pull(ref, credentials, signal);
      this.fsCache = undefined;
      log.info({ image: reference, id: record.id, ms: Date.now() - started }, 'image pulled');
      return record;
    } catch (err) {
      // Nothing of a failed pull stays behind: blobs and snapshots no image uses go.
      await this.collectGarbage().catch((gcErr: unknown) => log.warn({ err: gcErr }, 'garbage collection after a failed pull'));
      throw err;
    }
  }

  /** The image a reference names: an id, a unique id prefix, a tag or a repo digest. */
  find(reference: string): ImageRecord | undefined {
    if (FULL_ID.test(reference)) return this.images.get(reference.startsWith('sha256:') ? reference : `sha256:${reference}`);
    let byName: ImageRecord | undefined;
    let parsedOk = false;
    try {
      const ref = parseReference(reference);
      parsedOk = true;
      byName = ref.digest ? this.images.findByName(`${repositoryOf(ref)}@${ref.digest}`) : this.images.findByName(formatReference(ref));
      // name@digest also finds an image by its platform manifest digest.
      if (!byName && ref.digest)
        byName = this.images
          .list()
          .find((r) => r.manifestDigest === ref.digest && r.repoDigests.some((d) => d.startsWith(`${repositoryOf(ref)}@`)));
    } catch (err) {
      if (!SHORT_ID.test(reference) && !reference.startsWith('sha256:')) throw err;
    }
    if (byName) return byName;
    if (SHORT_ID.test(reference) || (!parsedOk && reference.startsWith('sha256:'))) {
      const matches = this.images.findByIdPrefix(reference);
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  list(filter?: string): ImageRecord[] {
    if (filter === undefined || filter === '') return this.images.list();
    const found = this.find(filter);
    return found ? [found] : [];
  }

  isPinned(record: ImageRecord): boolean {
    return this.pinnedName !== undefined && record.repoTags.includes(this.pinnedName);
  }

  /** Removes the image with all its names; an unknown image is not an error. */
  async remove(reference: string): Promise<void> {
    const record = this.find(reference);
    if (!record) return;
    await this.images.delete(record.id);
    this.log.info({ id: record.id, tags: record.repoTags }, 'image removed');
    await this.collectGarbage();
  }

  /** Deletes blobs and snapshots that no image references and no pull is using. */
  collectGarbage(): Promise<void> {
    const run = async (): Promise<void> => {
      const usedBlobs = new Set<string>();
      const usedChains = new Set<string>();
      for (const r of this.images.list()) {
        usedBlobs.add(r.manifestDigest).add(r.configDigest);
        if (r.indexDigest) usedBlobs.add(r.indexDigest);
        for (const l of r.layers) {
          usedBlobs.add(l.digest);
          usedChains.add(l.chainId);
        }
      }
      for (const digest of await this.content.list()) {
        if (!usedBlobs.has(digest) && !this.puller.isLeased(digest)) await this.content.delete(digest);
      }
      // Layers under a container's rootfs stay, with everything below them.
      for (const parent of this.snapshots.activeParents()) {
        for (let c: string | undefined = parent; c !== undefined; c = this.snapshots.get(c)?.parent) usedChains.add(c);
      }
      // Children before parents, so a stack is never left without its base mid-way.
      const snaps = this.snapshots.list().sort((a, b) => b.id - a.id);
      for (const s of snaps) {
        if (!usedChains.has(s.chainId) && !this.puller.isLeased(s.chainId)) await this.snapshots.remove(s.chainId);
      }
      this.fsCache = undefined;
    };
    this.gcChain = this.gcChain.catch(() => undefined).then(run);
    return this.gcChain;
  }

  /** Bytes and inodes used by content and snapshots, cached briefly (kubelet asks often). */
  fsUsage(): Promise<ImageFsUsage> {
    if (this.fsCache && Date.now() - this.fsCache.at < FS_INFO_TTL_MS) return this.fsCache.usage;
    const usage = (async (): Promise<ImageFsUsage> => {
      const seen = new Set<string>();
      const parts = await Promise.all(['content', 'snapshots', 'images'].map((d) => diskUsage(path.join(this.root, d), seen)));
      return {
        bytes: parts.reduce((n, p) => n + p.bytes, 0),
        inodes: parts.reduce((n, p) => n + p.inodes, 0),
        mountpoint: await mountPointOf(this.root),
        timestamp: Date.now(),
      };
    })();
    this.fsCache = { at: Date.now(), usage };
    usage.catch(() => (this.fsCache = undefined));
    return usage;
  }
}

export function requireReference(text: string | undefined, field: string): string {
  if (text === undefined || text.trim() === '') throw new SkiffError('InvalidArgument', `${field} is required`);
  return text.trim();
}
