import type { RuntimeAvailability } from '../config/check-host.js';
import type { SkiffConfig } from '../config/schema.js';
import { ContainerService } from '../container/container-service.js';
import { InfraContainers } from '../container/infra-runner.js';
import type { ContainerEventBus } from '../events/container-events.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';

/** Loads container records and hooks containers into the sandbox lifecycle. */
export async function startContainers(
  config: SkiffConfig,
  runtimes: RuntimeAvailability[],
  sandboxes: SandboxService,
  images: ImageService,
  snapshots: OverlaySnapshotter,
  events: ContainerEventBus,
  log: Logger,
): Promise<ContainerService> {
  const containers = new ContainerService({
    stateDir: config.stateDir,
    root: config.root,
    conmonPath: config.conmonPath,
    runtimes: new Map(runtimes.filter((r) => r.available).map((r) => [r.name, r.path])),
    sandboxes,
    images,
    snapshots,
    events,
    log: log.child({ part: 'container' }),
  });
  await containers.load();
  sandboxes.containers = { stopAll: (id) => containers.stopAll(id), removeAll: (id) => containers.removeAll(id) };
  sandboxes.infra = new InfraContainers({
    stateDir: config.stateDir,
    conmonPath: config.conmonPath,
    pauseImage: config.pauseImage,
    images,
    snapshots,
    containers,
    log: log.child({ part: 'infra' }),
  });
  return containers;
}
