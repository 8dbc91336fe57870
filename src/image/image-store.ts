import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { writeJsonAtomic } from '../store/atomic-file.js';
import type { ImageConfig } from './oci-types.js';

export interface ImageLayer {
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
  chainId: string;
}

/** One image: identified by its config digest, named by tags and digests. */
export interface ImageRecord {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string;
  /** The index the manifest was selected from, when pulled through one. */
  indexDigest?: string;
  configDigest: string;
  layers: ImageLayer[];
  /** Compressed bytes of config + layers, as registries and kubelet count it. */
  size: number;
  config: ImageConfig;
  pulledAt: string;
}

/**
 * Image records, one crash-safe JSON file per image under <root>/images, with
 * in-memory indexes so lookups never touch disk.
 */
export class ImageStore {
  private readonly dir: string;
  private readonly byId = new Map<string, ImageRecord>();

  constructor(root: string) {
    this.dir = path.join(root, 'images');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (!name.endsWith('.json')) {
        await fs.rm(file, { force: true }); // temp file of an interrupted write
        continue;
      }
      try {
        const record = JSON.parse(await fs.readFile(file, 'utf8')) as ImageRecord;
        this.byId.set(record.id, record);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw new Error(`image record ${file} is unreadable: ${(err as Error).message}`);
      }
    }
  }

  list(): ImageRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.byId.get(id);
  }

  /** The image a tag (docker.io/library/x:y) or repo digest (name@sha256:…) names. */
  findByName(name: string): ImageRecord | undefined {
    for (const r of this.byId.values()) if (r.repoTags.includes(name) || r.repoDigests.includes(name)) return r;
    return undefined;
  }

  /** Images whose id hex starts with the prefix (for short ids). */
  findByIdPrefix(prefix: string): ImageRecord[] {
    const hex = prefix.startsWith('sha256:') ? prefix.slice(7) : prefix;
    return [...this.byId.values()].filter((r) => r.id.slice(7).startsWith(hex));
  }

  /**
   * Stores the record. Tags and digests it claims are taken away from other
   * images (a tag names one image); an image left with no name at all is
   * returned so the caller can decide to drop it.
   */
  async put(record: ImageRecord): Promise<ImageRecord[]> {
    const orphaned: ImageRecord[] = [];
    for (const other of this.byId.values()) {
      if (other.id === record.id) continue;
      const tags = other.repoTags.filter((t) => !record.repoTags.includes(t));
      if (tags.length === other.repoTags.length) continue;
      const updated = { ...other, repoTags: tags };
      await this.write(updated);
      if (tags.length === 0 && updated.repoDigests.length === 0) orphaned.push(updated);
    }
    await this.write(record);
    return orphaned;
  }

  async delete(id: string): Promise<void> {
    await fs.rm(this.file(id), { force: true });
    this.byId.delete(id);
  }

  private async write(record: ImageRecord): Promise<void> {
    await writeJsonAtomic(this.file(record.id), record);
    this.byId.set(record.id, record);
  }

  private file(id: string): string {
    return path.join(this.dir, `${id.replace(/^sha256:/, '')}.json`);
  }
}
