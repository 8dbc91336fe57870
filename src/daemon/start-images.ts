import type { SkiffConfig } from '../config/schema.js';
import { ContentStore } from '../image/content-store.js';
import { ImageService } from '../image/image-service.js';
import { ImageStore } from '../image/image-store.js';
import { ImagePuller } from '../image/puller.js';
import { RegistryClient } from '../image/registry/client.js';
import type { Logger } from '../log.js';
import { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';
import { RUNTIME_VERSION } from '../version.js';

/** Loads the stores and builds the image service. */
export async function startImages(
  config: SkiffConfig,
  log: Logger,
): Promise<{ service: ImageService; snapshots: OverlaySnapshotter; close: () => Promise<void> }> {
  const content = new ContentStore(config.root);
  const snapshots = new OverlaySnapshotter(config.root);
  const images = new ImageStore(config.root, (file, err) => log.error({ file, err }, 'unreadable image record moved aside'));
  await Promise.all([content.init(), snapshots.init(), images.init()]);
  const registry = new RegistryClient({
    hostsDir: config.registry.configDir,
    log: log.child({ part: 'registry' }),
    userAgent: `skiff/${RUNTIME_VERSION}`,
  });
  const puller = new ImagePuller({
    registry,
    content,
    snapshots,
    images,
    log: log.child({ part: 'pull' }),
    layerConcurrency: config.image.maxConcurrentLayers,
    progressTimeoutMs: config.image.pullProgressTimeoutSeconds * 1000,
  });
  const service = new ImageService(config.root, images, content, snapshots, puller, log.child({ part: 'images' }), config.pauseImage);
  // Blobs or snapshots left by a pull that died with the previous daemon.
  await service.collectGarbage();
  return { service, snapshots, close: () => registry.close() };
}
