// Responses encoded ahead of grpc-js. kubelet lists every container and pod
// each second, and each item changes only when its state does; encoding a
// repeated field item by item and keeping the bytes turns most of a list call's
// protobuf work into one Buffer.concat (a repeated field's encoding is the
// concatenation of its entries' encodings).
import type * as grpc from '@grpc/grpc-js';

const BYTES = Symbol('encoded bytes');

/** A response already in wire format; see acceptEncoded. */
export interface Encoded {
  readonly [BYTES]: Buffer;
}

export function encoded(bytes: Buffer): Encoded {
  return { [BYTES]: bytes };
}

function isEncoded(v: unknown): v is Encoded {
  return typeof v === 'object' && v !== null && BYTES in v;
}

/** A copy of the service whose methods send Encoded responses as they are. */
export function acceptEncoded<S extends grpc.ServiceDefinition>(service: S): S {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    const serialize = method.responseSerialize;
    out[name] = { ...method, responseSerialize: (value: unknown) => (isEncoded(value) ? value[BYTES] : serialize(value)) };
  }
  return out as S;
}

/**
 * Encodes list responses (one repeated field) from records, re-encoding an
 * item only when its version changes.
 */
export class ListEncoder<R> {
  private readonly cache = new Map<string, { version: string; bytes: Buffer }>();
  private last: { parts: Buffer[]; bytes: Buffer } | undefined;

  constructor(
    /** The list response's own serializer, given one item at a time. */
    private readonly serializeList: (message: object) => Buffer,
    private readonly field: string,
    private readonly key: (record: R) => string,
    private readonly version: (record: R) => string,
    private readonly toItem: (record: R) => object,
  ) {}

  encode(records: readonly R[]): Encoded {
    const parts = records.map((r) => {
      const key = this.key(r);
      const version = this.version(r);
      let hit = this.cache.get(key);
      if (!hit || hit.version !== version) {
        hit = { version, bytes: this.serializeList({ [this.field]: [this.toItem(r)] }) };
        this.cache.set(key, hit);
      }
      return hit.bytes;
    });
    if (this.cache.size > 2 * records.length + 64) {
      // Removed records: keep only what this answer used.
      const live = new Set(records.map(this.key));
      for (const k of this.cache.keys()) if (!live.has(k)) this.cache.delete(k);
    }
    // kubelet's calls mostly find nothing changed: the same parts, the same answer.
    const last = this.last;
    if (last && last.parts.length === parts.length && parts.every((p, i) => p === last.parts[i])) return encoded(last.bytes);
    const bytes = Buffer.concat(parts);
    this.last = { parts, bytes };
    return encoded(bytes);
  }
}
