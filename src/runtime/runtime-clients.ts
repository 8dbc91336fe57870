import path from 'node:path';

import { invalidArgument } from '../errors.js';
import type { Logger } from '../log.js';
import type { OciRuntime, RuntimeProvider } from './oci-runtime.js';
import { RuncClient } from './runc.js';

/**
 * One runtime client per handler, each with its own --root under the state
 * dir, made on first use and kept: containers and infra processes share them.
 */
export class RuntimeClients implements RuntimeProvider {
  private readonly clients = new Map<string, OciRuntime>();

  constructor(
    private readonly o: {
      stateDir: string;
      /** Handler name → binary path, for the handlers that are available. */
      binaries: ReadonlyMap<string, string>;
      log: Logger;
    },
  ) {}

  /** The --root a handler's runtime keeps its state in. */
  rootOf(handler: string): string {
    return path.join(this.o.stateDir, 'runtime', handler);
  }

  get(handler: string): OciRuntime {
    let client = this.clients.get(handler);
    if (!client) {
      const binary = this.o.binaries.get(handler);
      if (!binary) throw invalidArgument(`runtime handler "${handler}" is not configured`);
      client = new RuncClient({ binary, root: this.rootOf(handler), log: this.o.log });
      this.clients.set(handler, client);
    }
    return client;
  }
}
