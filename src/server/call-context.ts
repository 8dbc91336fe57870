import type { Logger } from '../log.js';

/** What every domain call receives from the RPC layer. */
export interface CallContext {
  /** Aborted when the client cancels or the gRPC deadline passes. */
  signal: AbortSignal;
  log: Logger;
}
