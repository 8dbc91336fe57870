// OCI whiteouts (image-spec layer.md) and their overlayfs equivalents. In a
// tar, deletions are marker files; overlayfs wants a 0:0 character device in
// place of a deleted path, and an xattr on a directory whose lower contents
// are hidden. The markers themselves are never written.
import { parentOf } from './safe-path.js';
import { UnsafeLayerError } from './unsafe-layer-error.js';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** Reserved for AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to do on overlay. */
const META_PREFIX = '.wh..wh.';

export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** The xattrs overlayfs interprets, which a layer must not bring in itself. */
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

export type Whiteout =
  | { kind: 'delete'; path: string } // make `path` a whiteout device
  | { kind: 'opaque'; dir: string } // mark `dir` opaque
  | { kind: 'ignore' };

/** Classifies a cleaned entry path; undefined when it is an ordinary entry. */
export function classifyWhiteout(rel: string, rawName: string): Whiteout | undefined {
  const slash = rel.lastIndexOf('/');
  const base = rel.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  const dir = parentOf(rel);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(META_PREFIX)) return { kind: 'ignore' };
  const victim = base.slice(WHITEOUT_PREFIX.length);
  if (victim === '' || victim === '.' || victim === '..') throw new UnsafeLayerError(rawName, 'whiteout names no file');
  return { kind: 'delete', path: dir === '' ? victim : `${dir}/${victim}` };
}
