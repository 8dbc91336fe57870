// Image references as kubelet sends them, normalised the way Docker and containerd do,
// so that `busybox`, `docker.io/busybox` and `docker.io/library/busybox:latest` name one image.
//
// Grammar (docker/distribution "reference" package, restated):
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path-component ( "/" path-component )*
//   domain     := host [ ":" port ]      host: DNS labels joined by "." or a bracketed IPv6 address
//   path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*     separator: "." | "_" | "__" | "-"+
//   tag        := [\w][\w.-]{0,127}
//   digest     := algorithm ":" hex      algorithm: [A-Za-z][A-Za-z0-9]* joined by [+._-]; hex: 32+ hex digits
// A name is at most 255 characters. The first component is a domain only when it looks like
// one (contains "." or ":", is "localhost", or has an upper-case letter, which a path never may);
// otherwise the image lives on Docker Hub, and a single-component Hub path gets "library/".

import { invalidArgument } from '../errors.js';

export interface ImageReference {
  /** Registry host, with port when given: `docker.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB_DOMAIN = 'docker.io';
/** Docker's legacy spelling of the Hub, folded into `docker.io` like Docker does. */
const LEGACY_HUB_DOMAIN = 'index.docker.io';
const OFFICIAL_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';
const NAME_MAX = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** A bare 64-hex string is an image ID, never a repository name (Docker refuses it too). */
const IMAGE_ID = /^[a-f0-9]{64}$/;
/** Hex lengths of the algorithms the OCI spec registers; their hex must also be lower case. */
const REGISTERED_DIGESTS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function fail(text: string, reason: string): never {
  throw invalidArgument(`invalid image reference ${JSON.stringify(text)}: ${reason}`);
}

/** The reason a digest string is unacceptable, or undefined when it is fine. */
function digestProblem(digest: string): string | undefined {
  if (!DIGEST.test(digest)) return `invalid digest ${JSON.stringify(digest)}`;
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const length = REGISTERED_DIGESTS[algorithm];
  if (length !== undefined && (hex.length !== length || !/^[a-f0-9]+$/.test(hex))) {
    return `invalid digest ${JSON.stringify(digest)}: ${algorithm} needs ${length} lower-case hex digits`;
  }
  return undefined;
}

/** Splits a name into registry and repository path, applying Docker Hub's defaults. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const looksLikeDomain = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  let domain = looksLikeDomain ? first : DOCKER_HUB_DOMAIN;
  let path = looksLikeDomain ? name.slice(slash + 1) : name;
  if (domain === LEGACY_HUB_DOMAIN) domain = DOCKER_HUB_DOMAIN;
  if (domain === DOCKER_HUB_DOMAIN && !path.includes('/')) path = `${OFFICIAL_NAMESPACE}/${path}`;
  return { domain, path };
}

/**
 * Parses and normalises an image reference. A reference with neither tag nor digest gets
 * `latest`; one with both keeps both (the digest is what gets pulled).
 */
export function parseReference(text: string): ImageReference {
  if (text === '') fail(text, 'reference is empty');
  if (IMAGE_ID.test(text)) fail(text, 'a 64-hex string is an image ID, not a repository name');

  const at = text.indexOf('@');
  const namePart = at < 0 ? text : text.slice(0, at);
  const digest = at < 0 ? undefined : text.slice(at + 1);
  if (digest !== undefined) {
    const problem = digestProblem(digest);
    if (problem !== undefined) fail(text, problem);
  }

  // A colon after the last slash starts the tag; one before it belongs to a registry port.
  const colon = namePart.lastIndexOf(':');
  const hasTag = colon > namePart.lastIndexOf('/');
  const name = hasTag ? namePart.slice(0, colon) : namePart;
  const tag = hasTag ? namePart.slice(colon + 1) : undefined;
  if (tag !== undefined && !TAG.test(tag)) fail(text, `invalid tag ${JSON.stringify(tag)}`);

  if (name === '') fail(text, 'repository name is empty');
  if (name.length > NAME_MAX) fail(text, `repository name is longer than ${NAME_MAX} characters`);

  const { domain, path } = splitDomain(name);
  if (!DOMAIN.test(domain)) fail(text, `invalid registry host ${JSON.stringify(domain)}`);
  if (path.toLowerCase() !== path) fail(text, 'repository name must be lower case');
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      fail(text, `invalid repository path component ${JSON.stringify(component)}`);
    }
  }

  const ref: ImageReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (tag === undefined && digest === undefined) ref.tag = DEFAULT_TAG;
  return ref;
}

/** `domain/path[:tag][@digest]`, the fully qualified form kubelet shows. */
export function formatReference(r: ImageReference): string {
  return `${repositoryOf(r)}${r.tag === undefined ? '' : `:${r.tag}`}${r.digest === undefined ? '' : `@${r.digest}`}`;
}

/** `domain/path`: the repository, as used in RepoDigests and registry auth scopes. */
export function repositoryOf(r: ImageReference): string {
  return `${r.domain}/${r.path}`;
}

/** The same reference pinned to `digest` (the tag, if any, is kept). */
export function withDigest(r: ImageReference, digest: string): ImageReference {
  const problem = digestProblem(digest);
  if (problem !== undefined) throw invalidArgument(problem);
  return { ...r, digest };
}

/** Validates a content digest Skiff can verify: `sha256:` and 64 lower-case hex digits. */
export function parseDigest(text: string): { algorithm: 'sha256'; hex: string } {
  const match = /^sha256:([a-f0-9]{64})$/.exec(text);
  if (match === null) {
    throw invalidArgument(`invalid digest ${JSON.stringify(text)}: expected sha256:<64 lower-case hex digits>`);
  }
  return { algorithm: 'sha256', hex: match[1] as string };
}
