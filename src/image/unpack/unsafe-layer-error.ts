// The one error a layer's *content* can cause: an entry that is unsafe to write
// (escapes the root, writes through a symlink…) or a stream that is not a
// well-formed (compressed) tar. One kind for both, so callers can tell "the
// image is bad" apart from "the host failed" (Internal, ResourceExhausted…).
import { SkiffError } from '../../errors.js';

export class UnsafeLayerError extends SkiffError {
  /** `entry` is the raw name from the archive, or undefined for stream-level faults. */
  constructor(entry: string | undefined, why: string, options?: { cause?: unknown }) {
    // JSON.stringify shows hostile names (control characters, quotes) unambiguously.
    super('FailedPrecondition', entry === undefined ? `layer: ${why}` : `layer entry ${JSON.stringify(entry)}: ${why}`, options);
  }
}
