// Choosing one image manifest out of a multi-platform index, with containerd's matching
// rules restated (not its code):
//
// - Platforms are compared after normalisation: OS lower-cased; architecture aliases folded
//   (x86_64/x86-64 → amd64, aarch64 → arm64, i386 → 386, armhf → arm/v7, armel → arm/v6);
//   variants that mean the baseline are dropped (amd64 "v1", arm64 "v8"), and a bare "arm"
//   means arm/v7.
// - OS and architecture must match exactly. For the variant the preference is: the exact
//   variant, then an older compatible level (amd64 v3 runs v2 and v1 code; arm v7 runs v6
//   and v5), the nearest first, then an entry that names no variant. A wanted plain amd64 is
//   v1, so only unvarianted (or v1) amd64 entries qualify: a v2/v3 build may use
//   instructions a baseline CPU lacks.
// - Entries that are not images are skipped: attestation manifests (BuildKit marks them with
//   platform unknown/unknown and the annotation vnd.docker.reference.type) and descriptors
//   whose media type is neither a manifest nor an index.
// - An entry without any platform is accepted as a last resort, as containerd does: the index
//   did not say it is for someone else.
// Among equally good entries the first in the index wins.

import { SkiffError } from '../errors.js';
import { type Descriptor, type ImageIndex, MEDIA, type Platform } from './oci-types.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const IMAGE_MEDIA_TYPES: ReadonlySet<string> = new Set([MEDIA.ociManifest, MEDIA.dockerManifest, MEDIA.ociIndex, MEDIA.dockerManifestList]);
const REFERENCE_TYPE_ANNOTATION = 'vnd.docker.reference.type';
const ATTESTATION = 'attestation-manifest';

/** A platform reduced to the fields that decide a match, in canonical spelling. */
export interface NormalizedPlatform {
  os: string;
  architecture: string;
  /** '' when the variant is absent or the architecture's baseline. */
  variant: string;
}

export function normalizePlatform(p: Platform): NormalizedPlatform {
  // Index entries come from the network: tolerate missing fields instead of crashing on them.
  const rawOs = typeof p.os === 'string' ? p.os.toLowerCase() : '';
  const os = rawOs === 'macos' ? 'darwin' : rawOs;
  let architecture = typeof p.architecture === 'string' ? p.architecture.toLowerCase() : '';
  let variant = typeof p.variant === 'string' ? p.variant.toLowerCase() : '';
  switch (architecture) {
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === '8' || variant === 'v8') variant = '';
      break;
    case 'i386':
      architecture = '386';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  return { os, architecture, variant };
}

/** `os/architecture[/variant]`, as people write platforms. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The numeric level of an "vN" variant; amd64's baseline '' counts as v1. */
function level(architecture: string, variant: string): number | undefined {
  if (variant === '' && architecture === 'amd64') return 1;
  const m = /^v([0-9]+)$/.exec(variant);
  return m === null ? undefined : Number(m[1]);
}

/**
 * How well `have` serves `want`: 0 is an exact match, larger is worse, undefined is no match.
 */
function matchRank(want: NormalizedPlatform, have: NormalizedPlatform): number | undefined {
  if (want.os !== have.os || want.architecture !== have.architecture) return undefined;
  if (want.variant === have.variant) return 0;
  if (want.architecture === 'amd64' || want.architecture === 'arm') {
    // Newer levels are supersets of older ones: an older build runs, a newer one may not.
    const w = level(want.architecture, want.variant);
    const h = level(have.architecture, have.variant);
    if (w !== undefined && h !== undefined && h < w) return w - h;
  }
  if (have.variant === '') return 1000;
  return undefined;
}

const isAttestation = (d: Descriptor): boolean =>
  d.annotations?.[REFERENCE_TYPE_ANNOTATION] === ATTESTATION ||
  (d.platform !== undefined && (d.platform.os === 'unknown' || d.platform.architecture === 'unknown'));

/** Rank given to an entry that declares no platform at all. */
const NO_PLATFORM_RANK = 1_000_000;

/**
 * Picks the manifest (or nested index, which the caller resolves in turn) for `want` out of
 * `index`. Throws a NotFound SkiffError naming the platforms the index does offer.
 */
export function selectManifest(index: ImageIndex, want: Platform = DEFAULT_PLATFORM, indexDigest?: string): Descriptor {
  const target = normalizePlatform(want);
  const candidates = (Array.isArray(index.manifests) ? index.manifests : []).filter(
    (d) => IMAGE_MEDIA_TYPES.has(d.mediaType) && !isAttestation(d),
  );
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const d of candidates) {
    const rank = d.platform === undefined ? NO_PLATFORM_RANK : matchRank(target, normalizePlatform(d.platform));
    if (rank !== undefined && rank < bestRank) {
      best = d;
      bestRank = rank;
    }
  }
  if (best !== undefined) return best;

  const offered = candidates.map((d) => (d.platform === undefined ? '(unspecified)' : formatPlatform(d.platform)));
  const where = indexDigest === undefined ? 'index' : `index ${indexDigest}`;
  throw new SkiffError(
    'NotFound',
    `no manifest for ${formatPlatform(want)} in ${where}; available: ${offered.length === 0 ? 'none' : [...new Set(offered)].join(', ')}`,
  );
}
