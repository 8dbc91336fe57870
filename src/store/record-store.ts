import { promises as fs } from 'node:fs';
import path from 'node:path';
import { invalidArgument, notFound } from '../errors.js';
import { writeJsonAtomic } from './atomic-file.js';

/**
 * Records of one kind (sandboxes, containers), one crash-safe JSON file per id
 * under a directory, all held in memory: reads never touch disk.
 */
export class RecordStore<T extends { id: string }> {
  private readonly records = new Map<string, T>();

  /** `fileName` maps an id to its file's base name (ids such as "sha256:…" read better without the prefix). */
  constructor(
    private readonly dir: string,
    private readonly fileName: (id: string) => string = (id) => id,
  ) {}

  async load(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (!name.endsWith('.json')) {
        await fs.rm(file, { force: true }); // temp file of an interrupted write
        continue;
      }
      const record = JSON.parse(await fs.readFile(file, 'utf8')) as T;
      this.records.set(record.id, record);
    }
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  all(): T[] {
    return [...this.records.values()];
  }

  async put(record: T): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, `${this.fileName(record.id)}.json`), record);
    this.records.set(record.id, record);
  }

  async delete(id: string): Promise<void> {
    await fs.rm(path.join(this.dir, `${this.fileName(id)}.json`), { force: true });
    this.records.delete(id);
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
