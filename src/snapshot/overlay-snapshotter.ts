import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { SkiffError } from '../errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../store/atomic-file.js';

/** A committed (read-only) layer snapshot, keyed by chain ID. */
export interface CommittedSnapshot {
  chainId: string;
  /** Short numeric directory name: keeps overlay lowerdir lists under one page. */
  id: number;
  parent: string | undefined;
  /** Bytes of the uncompressed layer tar. */
  size: number;
  createdAt: string;
}

/** A writable snapshot (a container's rootfs): an upper and work dir over committed layers. */
export interface ActiveSnapshot {
  key: string;
  id: number;
  /** Chain ID of the top image layer it sits on. */
  parent: string;
}

interface Metadata {
  nextId: number;
  committed: Record<string, CommittedSnapshot>;
  active?: Record<string, ActiveSnapshot>;
}

/**
 * Overlay-format layer directories under <root>/snapshots/<id>/fs. Each
 * committed snapshot holds one layer's diff; a stack is mounted by listing the
 * chain's directories as overlay lowerdirs. Metadata is one crash-safe file;
 * directories it does not name are leftovers of a crash and are removed at start.
 */
export class OverlaySnapshotter {
  private readonly dir: string;
  private readonly metaFile: string;
  private meta: Metadata = { nextId: 1, committed: {} };
  /** Serialises metadata writes. */
  private writing: Promise<void> = Promise.resolve();

  constructor(root: string) {
    this.dir = path.join(root, 'snapshots');
    this.metaFile = path.join(this.dir, 'metadata.json');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.meta = (await readJsonIfExists<Metadata>(this.metaFile)) ?? { nextId: 1, committed: {} };
    this.meta.active ??= {};
    const known = new Set([...Object.values(this.meta.committed), ...Object.values(this.meta.active)].map((s) => String(s.id)));
    for (const name of await fs.readdir(this.dir)) {
      if (name === 'metadata.json' || known.has(name)) continue;
      await fs.rm(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  get(chainId: string): CommittedSnapshot | undefined {
    return this.meta.committed[chainId];
  }

  list(): CommittedSnapshot[] {
    return Object.values(this.meta.committed);
  }

  /** The layer directory of a committed snapshot. */
  fsPath(snapshot: CommittedSnapshot): string {
    return path.join(this.dir, String(snapshot.id), 'fs');
  }

  /** A fresh empty directory to unpack a layer into before `commit`. */
  async prepareUnpackDir(): Promise<string> {
    const dir = path.join(this.dir, `tmp-${randomBytes(8).toString('hex')}`);
    await fs.mkdir(path.join(dir, 'fs'), { recursive: true, mode: 0o755 });
    return dir;
  }

  /** Publishes an unpacked directory (from prepareUnpackDir) as the snapshot for chainId. */
  async commit(chainId: string, parent: string | undefined, unpackDir: string, size: number): Promise<CommittedSnapshot> {
    const existing = this.meta.committed[chainId];
    if (existing) {
      await fs.rm(unpackDir, { recursive: true, force: true });
      return existing;
    }
    const id = this.meta.nextId++;
    const snapshot: CommittedSnapshot = { chainId, id, parent, size, createdAt: new Date().toISOString() };
    await fs.rename(unpackDir, path.join(this.dir, String(id)));
    this.meta.committed[chainId] = snapshot;
    await this.save();
    return snapshot;
  }

  /** Lower directories for the stack ending at chainId, topmost first (overlay order). */
  lowerDirs(chainId: string): string[] {
    const dirs: string[] = [];
    for (let c: string | undefined = chainId; c !== undefined;) {
      const s: CommittedSnapshot | undefined = this.meta.committed[c];
      if (!s) throw new SkiffError('NotFound', `snapshot ${c} does not exist`);
      dirs.push(this.fsPath(s));
      c = s.parent;
    }
    return dirs;
  }

  /**
   * Creates a writable snapshot over the stack ending at `parent` and returns
   * the overlay mount options for it. Recorded before the directories exist, so
   * a crash leaves nothing unaccounted for.
   */
  async prepareActive(
    key: string,
    parent: string,
  ): Promise<{ snapshot: ActiveSnapshot; options: string; layers: { lowers: string[]; upper: string; work: string } }> {
    const lowers = this.lowerDirs(parent);
    let snapshot = this.meta.active![key];
    if (!snapshot) {
      snapshot = { key, id: this.meta.nextId++, parent };
      this.meta.active![key] = snapshot;
      await this.save();
    }
    const dir = path.join(this.dir, String(snapshot.id));
    await fs.mkdir(path.join(dir, 'fs'), { recursive: true, mode: 0o755 });
    await fs.mkdir(path.join(dir, 'work'), { recursive: true, mode: 0o700 });
    const options = `lowerdir=${lowers.join(':')},upperdir=${path.join(dir, 'fs')},workdir=${path.join(dir, 'work')}`;
    if (options.length > 4000)
      throw new SkiffError('FailedPrecondition', `image has too many layers for one overlay mount (${lowers.length})`);
    return { snapshot, options, layers: { lowers, upper: path.join(dir, 'fs'), work: path.join(dir, 'work') } };
  }

  getActive(key: string): ActiveSnapshot | undefined {
    return this.meta.active![key];
  }

  /** The writable (upper) directory of an active snapshot: what a container changed. */
  upperDir(snapshot: ActiveSnapshot): string {
    return path.join(this.dir, String(snapshot.id), 'fs');
  }

  /** Chain IDs that active snapshots sit on (GC must keep them). */
  activeParents(): Set<string> {
    return new Set(Object.values(this.meta.active!).map((a) => a.parent));
  }

  async removeActive(key: string): Promise<void> {
    const a = this.meta.active![key];
    if (!a) return;
    await fs.rm(path.join(this.dir, String(a.id)), { recursive: true, force: true });
    delete this.meta.active![key];
    await this.save();
  }

  async remove(chainId: string): Promise<void> {
    const s = this.meta.committed[chainId];
    if (!s) return;
    delete this.meta.committed[chainId];
    await this.save();
    await fs.rm(path.join(this.dir, String(s.id)), { recursive: true, force: true });
  }

  private save(): Promise<void> {
    const snapshot = JSON.parse(JSON.stringify(this.meta)) as Metadata;
    this.writing = this.writing.catch(() => undefined).then(() => writeJsonAtomic(this.metaFile, snapshot));
    return this.writing;
  }
}
