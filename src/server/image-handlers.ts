import type { AuthConfig__Output } from '../generated/runtime/v1/AuthConfig.js';
import type { Image } from '../generated/runtime/v1/Image.js';
import type { ImageServiceHandlers } from '../generated/runtime/v1/ImageService.js';
import { type ImageService, requireReference } from '../image/image-service.js';
import type { ImageRecord } from '../image/image-store.js';
import { imageUser } from '../image/image-user.js';
import type { RegistryCredentials } from '../image/registry/credentials.js';
import type { Logger } from '../log.js';
import { listStream, unary } from './instrument.js';

function toImage(service: ImageService, r: ImageRecord): Image {
  const user = imageUser(r.config.config?.User);
  return {
    id: r.id,
    repoTags: r.repoTags,
    repoDigests: r.repoDigests,
    size: String(r.size),
    ...(user.uid !== undefined ? { uid: { value: String(user.uid) } } : {}),
    username: user.username,
    spec: { image: r.id, annotations: {} },
    pinned: service.isPinned(r),
  };
}

function toCredentials(auth: AuthConfig__Output | null | undefined): RegistryCredentials | undefined {
  if (!auth) return undefined;
  const c: RegistryCredentials = {};
  if (auth.username) c.username = auth.username;
  if (auth.password) c.password = auth.password;
  if (auth.auth) c.auth = auth.auth;
  if (auth.serverAddress) c.serverAddress = auth.serverAddress;
  if (auth.identityToken) c.identityToken = auth.identityToken;
  if (auth.registryToken) c.registryToken = auth.registryToken;
  return Object.keys(c).length ? c : undefined;
}

/** The CRI ImageService over the image domain. */
export function imageServiceHandlers(log: Logger, images: ImageService): Partial<ImageServiceHandlers> {
  const listImages = (req: { filter: { image: { image: string } | null } | null }): Image[] =>
    images.list(req.filter?.image?.image).map((r) => toImage(images, r));
  return {
    PullImage: unary(log, 'PullImage', async (req, ctx) => {
      const reference = requireReference(req.image?.image, 'image.image');
      const record = await images.pull(reference, toCredentials(req.auth), ctx.signal, ctx.log);
      return { imageRef: record.id };
    }),

    ImageStatus: unary(log, 'ImageStatus', (req) => {
      const record = images.find(requireReference(req.image?.image, 'image.image'));
      if (!record) return { info: {} };
      const info: Record<string, string> = {};
      if (req.verbose) {
        info['info'] = JSON.stringify({
          id: record.id,
          manifestDigest: record.manifestDigest,
          indexDigest: record.indexDigest,
          chainId: record.layers[record.layers.length - 1]?.chainId,
          layers: record.layers,
          pulledAt: record.pulledAt,
          imageSpec: record.config,
        });
      }
      return { image: toImage(images, record), info };
    }),

    ListImages: unary(log, 'ListImages', (req) => ({ images: listImages(req) })),
    StreamImages: listStream(log, 'StreamImages', 'images', listImages),

    RemoveImage: unary(log, 'RemoveImage', async (req) => {
      await images.remove(requireReference(req.image?.image, 'image.image'));
      return {};
    }),

    ImageFsInfo: unary(log, 'ImageFsInfo', async () => {
      const usage = await images.fsUsage();
      const fs = {
        timestamp: String(BigInt(usage.timestamp) * 1_000_000n),
        fsId: { mountpoint: usage.mountpoint },
        usedBytes: { value: String(usage.bytes) },
        inodesUsed: { value: String(usage.inodes) },
      };
      return { imageFilesystems: [fs], containerFilesystems: [] };
    }),
  };
}
