import path from 'node:path';

import { invalidArgument } from '../errors.js';
import type { Logger } from '../log.js';
import type { HandlerFeatures } from './handler-features.js';
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
      /** Handler name → what it can apply (probed at start-up). */
      features: ReadonlyMap<string, HandlerFeatures>;
      log: Logger;
    },
  ) {}

  /** The --root a handler's runtime keeps its state in. */
  rootOf(handler: string): string {
    return path.join(this.o.stateDir, 'runtime', handler);
  }

  features(handler: string): HandlerFeatures {
    const f = this.o.features.get(handler);
    if (!f) throw invalidArgument(`runtime handler "${handler}" is not configured`);
    return f;
  }

  get(handler: string): OciRuntime {
    let client = this.clients.get(handler);
    if (!client) {
      const binary = this.o.binaries.get(handler);
      if (!binary) throw invalidArgument(`runtime handler "${handler}" is not configured`);
      // Exec specs and pid files go to a 0700 directory of Skiff's own (daemon/private-dirs.ts), never /tmp.
      client = new RuncClient({ binary, root: this.rootOf(handler), tmpDir: path.join(this.o.stateDir, 'runtime-tmp'), log: this.o.log });
      this.clients.set(handler, client);
    }
    return client;
  }
}
