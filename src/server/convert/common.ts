import type { MountPropagation } from '../../container/types.js';
import { invalidArgument } from '../../errors.js';

/** A required id field: INVALID_ARGUMENT naming the field when empty. */
export function requireId(id: string | undefined, field: string): string {
  if (!id) throw invalidArgument(`${field} is required`);
  return id;
}

export type ProtoPropagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';

/** Mount propagation, domain → proto; `FROM_PROTO_PROPAGATION` is the reverse. */
export const TO_PROTO_PROPAGATION: Record<MountPropagation, ProtoPropagation> = {
  private: 'PROPAGATION_PRIVATE',
  hostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

export const FROM_PROTO_PROPAGATION: Record<string, MountPropagation> = Object.fromEntries(
  Object.entries(TO_PROTO_PROPAGATION).map(([domain, proto]) => [proto, domain as MountPropagation]),
);
