import path from 'node:path';

import { filterById, RecordStore } from '../store/record-store.js';
import { CONTAINER_SCHEMA, type ContainerRecord, type ContainerState, type ContainerStatusFields, withStatus } from './record.js';

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  sandboxId?: string;
  labels?: Record<string, string>;
}

/** The container records in memory (and on disk), with the CRI's ways of finding them. */
export class ContainerRecords {
  private readonly store: RecordStore<ContainerRecord>;

  constructor(root: string, onCorrupt: (file: string, err: unknown) => void) {
    this.store = new RecordStore<ContainerRecord>(path.join(root, 'containers'), { schema: CONTAINER_SCHEMA, onCorrupt });
  }

  load(): Promise<void> {
    return this.store.load();
  }

  get(id: string): ContainerRecord | undefined {
    return this.store.get(id);
  }

  all(): ContainerRecord[] {
    return this.store.all();
  }

  /** Exact id or unique prefix among the visible (not half-created) containers; NOT_FOUND otherwise. */
  resolve(idOrPrefix: string): ContainerRecord {
    return this.store.resolve(idOrPrefix, 'container', (r) => r.status.state !== 'creating');
  }

  /** Exact id, else a unique prefix, else undefined (stop and remove of the unknown succeed). */
  find(idOrPrefix: string): ContainerRecord | undefined {
    return this.store.get(idOrPrefix) ?? this.list({ id: idOrPrefix }).at(0);
  }

  byName(name: string): ContainerRecord | undefined {
    return this.store.all().find((r) => r.name === name);
  }

  list(filter: ContainerFilter = {}): ContainerRecord[] {
    let out = filterById(
      this.store.all().filter((r) => r.status.state !== 'creating'),
      filter.id,
    );
    if (filter.state) out = out.filter((r) => r.status.state === filter.state);
    const sandboxId = filter.sandboxId;
    if (sandboxId) out = out.filter((r) => r.sandboxId === sandboxId || r.sandboxId.startsWith(sandboxId));
    if (filter.labels) {
      const want = Object.entries(filter.labels);
      out = out.filter((r) => want.every(([k, v]) => r.config.labels[k] === v));
    }
    return out;
  }

  put(record: ContainerRecord): Promise<void> {
    return this.store.put(record);
  }

  update(id: string, change: (r: ContainerRecord) => ContainerRecord): Promise<ContainerRecord> {
    return this.store.update(id, change);
  }

  setStatus(id: string, change: Partial<ContainerStatusFields>): Promise<ContainerRecord> {
    return this.store.update(id, (r) => withStatus(r, change));
  }

  delete(id: string): Promise<void> {
    return this.store.delete(id);
  }
}
