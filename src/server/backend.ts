// What the RPC layer needs from the rest of the daemon, declared here so that
// server/ depends on this interface and the daemon's boot satisfies it.
import type { RuntimeAvailability } from '../config/check-host.js';
import type { SkiffConfig } from '../config/schema.js';
import type { ContainerService } from '../container/container-service.js';
import type { ContainerStats } from '../container/container-stats.js';
import type { ContainerEventBus } from '../events/container-events.js';
import type { ImageService } from '../image/image-service.js';
import type { CniConfigWatcher } from '../network/cni/conf-dir.js';
import type { PodCidrStore } from '../network/pod-cidr.js';
import type { PodLifecycle } from '../pod/pod-lifecycle.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { StreamServer } from '../streaming/stream-server.js';

export interface CriBackend {
  config: SkiffConfig;
  /** The config file in effect, or undefined for the embedded defaults. */
  configSource: string | undefined;
  runtimes: readonly RuntimeAvailability[];
  cni: CniConfigWatcher;
  podCidrs: PodCidrStore;
  images: ImageService;
  /** Pod-level operations that span sandboxes and containers. */
  pods: PodLifecycle;
  sandboxes: SandboxService;
  containers: ContainerService;
  events: ContainerEventBus;
  stats: ContainerStats;
  /** The exec/attach/port-forward streaming server (absolute URLs under single-use tokens). */
  streaming: Pick<StreamServer, 'exec' | 'attach' | 'portForward' | 'url'>;
  /** Mount point of the filesystem holding the root dir (writable layers live there). */
  imageFsMountpoint: string;
}
