import { promises as fs } from 'node:fs';
import path from 'node:path';

import { errnoCode } from '../../errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../../store/atomic-file.js';
import type { CniNetworkConfig } from './conf-dir.js';
import { validateContainerId } from './plugin-env.js';
import type { CniCapabilities, CniPodInfo } from './types.js';

/**
 * What one sandbox's attachment was made with. Written before ADD starts
 * (result null: intent) and again with the result, so DEL can always replay the
 * exact config, pod info and capabilities that ADD used, even after a crash
 * mid-ADD or after the conf dir changed.
 */
export interface CniCacheEntry {
  version: 1;
  network: CniNetworkConfig;
  pod: CniPodInfo;
  capabilities: CniCapabilities;
  /** The final ADD result as the last plugin printed it; null until ADD completed. */
  result: Record<string, unknown> | null;
  updatedAt: string;
}

export class CniResultCache {
  constructor(private readonly dir: string) {}

  file(sandboxId: string): string {
    validateContainerId(sandboxId); // it becomes a file name
    return path.join(this.dir, `${sandboxId}.json`);
  }

  async read(sandboxId: string): Promise<CniCacheEntry | undefined> {
    const entry = await readJsonIfExists<CniCacheEntry>(this.file(sandboxId));
    if (entry === undefined) return undefined;
    if (entry.version !== 1 || typeof entry.network !== 'object' || entry.network === null || !Array.isArray(entry.network.plugins)) {
      throw new Error(`unreadable CNI cache entry ${this.file(sandboxId)}`);
    }
    return entry;
  }

  async write(entry: Omit<CniCacheEntry, 'version' | 'updatedAt'>): Promise<void> {
    const full: CniCacheEntry = { version: 1, ...entry, updatedAt: new Date().toISOString() };
    await writeJsonAtomic(this.file(entry.pod.sandboxId), full);
  }

  async remove(sandboxId: string): Promise<void> {
    try {
      await fs.unlink(this.file(sandboxId));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }

  /** Sandbox ids with a cache entry, for start-up reconciliation. */
  async list(): Promise<string[]> {
    try {
      return (await fs.readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -'.json'.length));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  }
}
