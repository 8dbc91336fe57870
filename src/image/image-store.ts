import path from 'node:path';

import { type RecordSchema, RecordStore } from '../store/record-store.js';
import type { ImageConfig } from './oci-types.js';

export interface ImageLayer {
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
  chainId: string;
}

/** One image: identified by its config digest, named by tags and digests. */
export const IMAGE_RECORD_VERSION = 1;

export interface ImageRecord {
  version: typeof IMAGE_RECORD_VERSION;
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

/** Version 0 (no version field) had the same fields. */
const IMAGE_SCHEMA: RecordSchema<ImageRecord> = {
  kind: 'image',
  version: IMAGE_RECORD_VERSION,
  migrate(raw) {
    const record = { ...raw, version: IMAGE_RECORD_VERSION } as unknown as ImageRecord;
    if (typeof record.id !== 'string' || !Array.isArray(record.layers) || !Array.isArray(record.repoTags))
      throw new Error('not an image record');
    return record;
  },
};

/** Image records: one crash-safe JSON file per image under <root>/images, all in memory. */
export class ImageStore {
  private readonly records: RecordStore<ImageRecord>;

  constructor(root: string, onCorrupt?: (file: string, err: unknown) => void) {
    this.records = new RecordStore<ImageRecord>(path.join(root, 'images'), {
      schema: IMAGE_SCHEMA,
      fileName: (id) => id.replace(/^sha256:/, ''),
      ...(onCorrupt ? { onCorrupt } : {}),
    });
  }

  init(): Promise<void> {
    return this.records.load();
  }

  list(): ImageRecord[] {
    return this.records.all();
  }

  get(id: string): ImageRecord | undefined {
    return this.records.get(id);
  }

  /** The image a tag (docker.io/library/x:y) or repo digest (name@sha256:…) names. */
  findByName(name: string): ImageRecord | undefined {
    return this.records.all().find((r) => r.repoTags.includes(name) || r.repoDigests.includes(name));
  }

  /** Images whose id hex starts with the prefix (for short ids). */
  findByIdPrefix(prefix: string): ImageRecord[] {
    const hex = prefix.startsWith('sha256:') ? prefix.slice(7) : prefix;
    return this.records.all().filter((r) => r.id.slice(7).startsWith(hex));
  }

  /**
   * Stores the record. Tags it claims are taken away from other images (a tag
   * names one image); an image left with no name at all is returned so the
   * caller can decide to drop it.
   */
  async put(record: ImageRecord): Promise<ImageRecord[]> {
    const orphaned: ImageRecord[] = [];
    for (const other of this.records.all()) {
      if (other.id === record.id) continue;
      const tags = other.repoTags.filter((t) => !record.repoTags.includes(t));
      if (tags.length === other.repoTags.length) continue;
      const updated = { ...other, repoTags: tags };
      await this.records.put(updated);
      if (tags.length === 0 && updated.repoDigests.length === 0) orphaned.push(updated);
    }
    await this.records.put(record);
    return orphaned;
  }

  delete(id: string): Promise<void> {
    return this.records.delete(id);
  }
}
