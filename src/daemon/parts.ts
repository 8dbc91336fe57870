import type { RuntimeAvailability } from '../config/check-host.js';
import type { SkiffConfig } from '../config/schema.js';
import type { CniConfigWatcher } from '../network/cni/conf-dir.js';
import type { PodCidrStore } from '../network/pod-cidr.js';
import type { ImageService } from '../image/image-service.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { ContainerService } from '../container/container-service.js';
import type { ContainerEventBus } from '../events/container-events.js';
import type { ContainerStats } from '../container/container-stats.js';

/** The started services the RPC layer talks to. */
export interface DaemonParts {
  config: SkiffConfig;
  /** The config file in effect, or undefined for the embedded defaults. */
  configSource: string | undefined;
  runtimes: RuntimeAvailability[];
  cni: CniConfigWatcher;
  podCidrs: PodCidrStore;
  images: ImageService;
  sandboxes: SandboxService;
  containers: ContainerService;
  events: ContainerEventBus;
  stats: ContainerStats;
  /** Mount point of the filesystem holding the root dir (writable layers live there). */
  imageFsMountpoint: string;
}
