import type { ContainerEventBus } from '../events/container-events.js';
import type { HostFeatures } from '../host/features.js';
import type { ImageRecord } from '../image/image-store.js';
import type { Logger } from '../log.js';
import type { CgroupOps, ContainerMonitor, RuntimeProvider } from '../runtime/oci-runtime.js';
import type { Bundles } from './bundle.js';
import type { StopTimings } from './stop-ladder.js';

/** The image side as containers see it. */
export interface ImageLookup {
  /** By id, tag, digest or unique id prefix. */
  find(ref: string): ImageRecord | undefined;
}

/** Everything the container modules work with, given once at construction. */
export interface ContainerDeps {
  stateDir: string;
  root: string;
  runtimes: RuntimeProvider;
  monitor: ContainerMonitor;
  bundles: Bundles;
  cgroups: CgroupOps;
  images: ImageLookup;
  events: ContainerEventBus;
  host: HostFeatures;
  /** conmon's exit files, one per container id. */
  exitDir: string;
  /** conmon's attach socket links. */
  socketDir: string;
  log: Logger;
  /** The stop ladder's graces (defaults in stop-ladder.ts). */
  stopTimings?: StopTimings;
}
