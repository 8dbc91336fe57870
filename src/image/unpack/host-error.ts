// Failures of the host while unpacking (disk full, I/O error, a missing
// tool), as opposed to faults of the layer (UnsafeLayerError): domain errors
// pass through, anything else gets context and a kind.
import { errnoCode, type ErrorKind, SkiffError } from '../../errors.js';

export function hostError(err: unknown, context: string): SkiffError {
  if (err instanceof SkiffError) return err;
  const code = errnoCode(err);
  const kind: ErrorKind = code === 'ENOSPC' || code === 'EDQUOT' ? 'ResourceExhausted' : 'Internal';
  return new SkiffError(kind, `${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** hostError for one archive entry. */
export const entryError = (err: unknown, entryName: string): SkiffError => hostError(err, `layer entry ${JSON.stringify(entryName)}`);
