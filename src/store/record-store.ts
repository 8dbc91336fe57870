import { promises as fs } from 'node:fs';
import path from 'node:path';

import { invalidArgument, notFound } from '../errors.js';
import { writeJsonAtomic } from './atomic-file.js';
import { KeyedMutex } from './keyed-mutex.js';

class NewerRecordError extends Error {}

/** Every persisted record carries the schema version it was written with. */
export interface Versioned {
  readonly id: string;
  readonly version: number;
}

/**
 * How one kind of record is read back: `migrate` brings a record of any
 * earlier version (a record written before versions existed has none) to the
 * current shape, and throws for one it cannot read.
 */
export interface RecordSchema<T extends Versioned> {
  readonly kind: string;
  readonly version: T['version'];
  migrate(raw: Record<string, unknown>): T;
}

export interface RecordStoreOptions<T extends Versioned> {
  schema: RecordSchema<T>;
  /** Maps an id to its file's base name (ids such as "sha256:…" read better without the prefix). */
  fileName?: (id: string) => string;
  /** Told about each record that could not be read; the file is moved to `<dir>.corrupt/` first. */
  onCorrupt?: (file: string, err: unknown) => void;
}

/**
 * Records of one kind (sandboxes, containers, images), one crash-safe JSON
 * file per id under a directory, all held in memory: reads never touch disk.
 * Records are replaced, never changed in place: `update` copies, changes,
 * writes and swaps under a per-id lock, so a reader sees the old record or
 * the new one, never half of a change.
 */
export class RecordStore<T extends Versioned> {
  private readonly records = new Map<string, T>();
  private readonly writes = new KeyedMutex();
  private readonly fileName: (id: string) => string;

  constructor(
    private readonly dir: string,
    private readonly opts: RecordStoreOptions<T>,
  ) {
    this.fileName = opts.fileName ?? ((id) => id);
  }

  async load(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (!name.endsWith('.json')) {
        await fs.rm(file, { force: true }); // temp file of an interrupted write
        continue;
      }
      let record: T;
      let written: unknown;
      try {
        const raw = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object');
        written = (raw as { version?: unknown }).version;
        if (typeof written === 'number' && written > this.opts.schema.version) {
          // A downgrade: refusing to start beats forgetting what the newer daemon runs.
          throw new NewerRecordError(
            `${file} was written by a newer skiff (${this.opts.schema.kind} record version ${written}, this one reads up to ${this.opts.schema.version})`,
          );
        }
        record = this.opts.schema.migrate(raw as Record<string, unknown>);
      } catch (err) {
        if (err instanceof NewerRecordError) throw err;
        await this.moveAside(file, name);
        this.opts.onCorrupt?.(file, err);
        continue;
      }
      this.records.set(record.id, record);
      // Migrated records are rewritten once, so the next start reads the current shape.
      if (written !== record.version) await this.write(record);
    }
  }

  private async moveAside(file: string, name: string): Promise<void> {
    const aside = `${this.dir}.corrupt`;
    await fs.mkdir(aside, { recursive: true, mode: 0o700 });
    await fs.rename(file, path.join(aside, `${name}.${Date.now()}`));
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  all(): T[] {
    return [...this.records.values()];
  }

  /** Writes a whole record (a new one, or a replacement). */
  put(record: T): Promise<void> {
    return this.writes.run(record.id, () => this.write(record));
  }

  /**
   * Replaces the record with `change(current)`: written first, then swapped in.
   * NOT_FOUND when there is no such record; `change` must not mutate its argument.
   */
  update(id: string, change: (current: T) => T): Promise<T> {
    return this.writes.run(id, async () => {
      const current = this.records.get(id);
      if (!current) throw notFound(`${this.opts.schema.kind} "${id}" not found`);
      const next = change(current);
      await this.write(next);
      return next;
    });
  }

  async delete(id: string): Promise<void> {
    await this.writes.run(id, async () => {
      await fs.rm(this.file(id), { force: true });
      this.records.delete(id);
    });
  }

  private file(id: string): string {
    return path.join(this.dir, `${this.fileName(id)}.json`);
  }

  private async write(record: T): Promise<void> {
    await writeJsonAtomic(this.file(record.id), record);
    this.records.set(record.id, record);
  }

  /**
   * The record an id or a unique id prefix names (as crictl lets users type
   * short ids), among those `visible` accepts; NOT_FOUND or INVALID_ARGUMENT naming `what`.
   */
  resolve(idOrPrefix: string, what: string, visible: (r: T) => boolean = () => true): T {
    const exact = this.records.get(idOrPrefix);
    if (exact && visible(exact)) return exact;
    const matches = idOrPrefix ? [...this.records.values()].filter((r) => r.id.startsWith(idOrPrefix) && visible(r)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw invalidArgument(`${what} id prefix "${idOrPrefix}" is ambiguous`);
    throw notFound(`${what} "${idOrPrefix}" not found`);
  }
}

/** A CRI list filter's id: the exact record if there is one, else those the id prefixes. */
export function filterById<T extends { id: string }>(records: T[], id: string | undefined): T[] {
  if (!id) return records;
  const exact = records.filter((r) => r.id === id);
  return exact.length ? exact : records.filter((r) => r.id.startsWith(id));
}
