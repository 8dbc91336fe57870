import { promises as fs } from 'node:fs';

import * as grpc from '@grpc/grpc-js';

import type { ImageServiceHandlers } from '../generated/runtime/v1/ImageService.js';
import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { Logger } from '../log.js';
import type { CriBackend } from './backend.js';
import { containerHandlers } from './container-handlers.js';
import { acceptEncoded } from './encoded.js';
import { imageServiceHandlers } from './image-handlers.js';
import { loadCriProto } from './proto.js';
import { runtimeInfoHandlers } from './runtime-info-handlers.js';
import { sandboxHandlers } from './sandbox-handlers.js';
import { statsHandlers } from './stats-handlers.js';
import { withUnimplemented } from './unimplemented.js';

/** Kubelet sends large ListContainers answers and image pulls with big auth; match containerd's 16 MiB. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class CriServer {
  private readonly server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    // Per-call bookkeeping nobody reads here (no channelz service is exposed).
    'grpc.enable_channelz': 0,
  });

  constructor(
    private readonly log: Logger,
    parts: CriBackend,
  ) {
    const v1 = loadCriProto().runtime.v1;
    const runtime: Partial<RuntimeServiceHandlers> = {
      ...runtimeInfoHandlers(log, parts),
      ...sandboxHandlers(log, parts),
      ...containerHandlers(log, parts),
      ...statsHandlers(log, parts.stats, parts.containers, parts.sandboxes, () => parts.imageFsMountpoint),
    };
    const image: Partial<ImageServiceHandlers> = imageServiceHandlers(log, parts.images);
    this.server.addService(
      acceptEncoded(v1.RuntimeService.service),
      withUnimplemented(v1.RuntimeService.service, 'runtime.v1.RuntimeService', runtime),
    );
    this.server.addService(
      acceptEncoded(v1.ImageService.service),
      withUnimplemented(v1.ImageService.service, 'runtime.v1.ImageService', image),
    );
  }

  /** Binds the unix socket and restricts it to root and the socket's group (0660). */
  async listen(socketPath: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    await fs.chmod(socketPath, 0o660);
  }

  /** Lets in-flight calls finish for a moment, then cuts the rest. */
  async close(graceMs = 2000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn('forcing gRPC shutdown');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
