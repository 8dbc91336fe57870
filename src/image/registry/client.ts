// The registry client the puller uses: manifests and blobs over the OCI distribution API,
// tried on each configured endpoint in turn (hosts.ts), each request passing through the
// layers auth.ts → redirect.ts → transport.ts.
//
// Endpoint fallback: a tag is resolved only by endpoints with the "resolve" capability, content
// by digest comes from any "pull" endpoint (it is verified, so a mirror cannot forge it). Any
// failure of one endpoint (not found, refused, 5xx, network, bad content) moves on to the next;
// when all fail, the error names each endpoint's failure and takes its kind from the last one
// tried, normally the registry itself, whose answer is the authoritative one. Cancellation
// stops at once, and a schema 1 manifest is refused outright.
// One file on purpose: the endpoint fallback loop and the request it retries
// share their error classification.

import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';

import { type ErrorKind, SkiffError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { MEDIA } from '../oci-types.js';
import { formatReference, type ImageReference, parseDigest } from '../reference.js';
import { authFailure, Authorizer } from './auth.js';
import { readLimited } from './body.js';
import { credentialsForEndpoint, type RegistryCredentials } from './credentials.js';
import { readErrorBody } from './error-body.js';
import { loadEndpoints, type RegistryEndpoint } from './hosts.js';
import { followRedirects } from './redirect.js';
import { header, type HttpResponse, type Send, Transport } from './transport.js';

export interface FetchedManifest {
  /** sha256 of `bytes`. */
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** API root of the endpoint that served it (RegistryEndpoint.url). */
  endpoint: string;
}

export interface BlobStream {
  /** Unverified content: the caller hashes it. Destroy it to abandon the download. */
  body: Readable;
  /** From Content-Length, when the registry sent one. */
  size: number | undefined;
  endpoint: string;
}

export interface RegistryClientOptions {
  /** Directory of per-registry hosts.toml files (config `registry.config_dir`). */
  hostsDir: string;
  log: Logger;
  userAgent?: string;
}

export interface FetchOptions {
  credentials?: RegistryCredentials;
  signal?: AbortSignal;
}

/** What the client accepts, best first; schema 1 is listed only so it can be refused clearly. */
export const MANIFEST_ACCEPT = [
  MEDIA.ociIndex,
  MEDIA.ociManifest,
  MEDIA.dockerManifestList,
  MEDIA.dockerManifest,
  MEDIA.dockerSchema1Signed,
  MEDIA.dockerSchema1,
].join(', ');

const SCHEMA1 = new Set<string>([MEDIA.dockerSchema1, MEDIA.dockerSchema1Signed]);
const MANIFEST_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerManifestList, MEDIA.dockerManifest]);
/** Manifests are kilobytes; the ceiling only guards memory against a broken registry. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const TAG = /^\w[\w.-]{0,127}$/;

/** One endpoint's failure: recorded, and the next endpoint is tried. */
class EndpointFailure extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** A failure no other endpoint can fix. */
class Terminal extends Error {
  constructor(readonly error: SkiffError) {
    super(error.message);
  }
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function describeStatus(status: number): string {
  return `${status} ${(STATUS_CODES[status] ?? 'unexpected status').toLowerCase()}`;
}

/** Maps a non-success response to an EndpointFailure, quoting the registry's error body. */
async function statusFailure(res: HttpResponse, what: string): Promise<EndpointFailure | SkiffError> {
  const detail = await readErrorBody(res);
  const suffix = detail === undefined ? '' : `: ${detail}`;
  const status = describeStatus(res.status);
  if (res.status === 401) {
    const e = authFailure(res.url.host, res.status, detail);
    return new EndpointFailure(e.kind, e.message);
  }
  if (res.status === 403) return new EndpointFailure('FailedPrecondition', `${what}: access denied: ${status}${suffix}`);
  if (res.status === 404) return new EndpointFailure('NotFound', `${what}: not found: ${status}${suffix}`);
  if (res.status === 429) return new EndpointFailure('ResourceExhausted', `${what}: rate limited: ${status}${suffix}`);
  if (res.status >= 500) return new EndpointFailure('Unavailable', `${what}: ${status}${suffix}`);
  return new EndpointFailure('FailedPrecondition', `${what}: ${status}${suffix}`);
}

/** The media type of a fetched manifest: the document's own field, else the header, else its shape. */
function manifestMediaType(contentType: string | undefined, bytes: Buffer): string {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new EndpointFailure('FailedPrecondition', 'manifest is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new EndpointFailure('FailedPrecondition', 'manifest is not a JSON object');
  }
  const fields = doc as { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; layers?: unknown };
  const headerType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (fields.schemaVersion === 1) return headerType !== undefined && SCHEMA1.has(headerType) ? headerType : MEDIA.dockerSchema1;
  if (typeof fields.mediaType === 'string' && fields.mediaType !== '') return fields.mediaType;
  if (headerType !== undefined && (MANIFEST_TYPES.has(headerType) || SCHEMA1.has(headerType))) return headerType;
  if (Array.isArray(fields.manifests)) return MEDIA.ociIndex;
  if (Array.isArray(fields.layers)) return MEDIA.ociManifest;
  throw new EndpointFailure('FailedPrecondition', `unrecognised manifest (content type ${contentType ?? 'none'})`);
}

/** The error for an aborted request: the signal's own reason when it is ours, else cancelled or deadline. */
function abortError(signal: AbortSignal, ref: ImageReference): SkiffError {
  const reason: unknown = signal.reason;
  if (reason instanceof SkiffError) return reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return new SkiffError(
    timedOut ? 'DeadlineExceeded' : 'Cancelled',
    `pulling ${formatReference(ref)}: ${timedOut ? 'deadline exceeded' : 'cancelled'}`,
    { cause: reason },
  );
}

function networkMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}${cause}`;
  }
  return String(err);
}

export class RegistryClient {
  private readonly hostsDir: string;
  private readonly log: Logger;
  private readonly userAgent: string;
  private readonly transport = new Transport();
  private readonly send: Send;
  private readonly authorizer: Authorizer;

  constructor(opts: RegistryClientOptions) {
    this.hostsDir = opts.hostsDir;
    this.log = opts.log;
    this.userAgent = opts.userAgent ?? 'skiff';
    this.send = followRedirects(this.transport.send);
    this.authorizer = new Authorizer(this.send, this.userAgent);
  }

  /**
   * A manifest or index by tag or digest. By digest, the bytes are checked against it; by
   * tag, the digest is computed (and must equal Docker-Content-Digest when that is sent).
   * Schema 1 manifests are refused with a FailedPrecondition SkiffError.
   */
  async getManifest(ref: ImageReference, reference: string, opts: FetchOptions): Promise<FetchedManifest> {
    const byDigest = reference.includes(':');
    if (byDigest) parseDigest(reference);
    else if (!TAG.test(reference)) throw new SkiffError('InvalidArgument', `invalid tag ${JSON.stringify(reference)}`);
    const what = `manifest ${reference}`;
    const all = await loadEndpoints(this.hostsDir, ref.domain);
    const endpoints = all.filter((e) => (byDigest ? e.capabilities.pull : e.capabilities.resolve));

    return this.tryEndpoints(ref, endpoints, what, opts, byDigest ? 'pull' : 'resolve', async (endpoint, send) => {
      const res = await send({
        url: this.apiUrl(endpoint, ref, `manifests/${reference}`),
        method: 'GET',
        headers: { accept: MANIFEST_ACCEPT, 'user-agent': this.userAgent },
        signal: opts.signal,
        tls: endpoint,
      });
      if (res.status !== 200) throw await statusFailure(res, what);
      let bytes: Buffer;
      try {
        bytes = await readLimited(res, MAX_MANIFEST_BYTES, what);
      } catch (err) {
        if (err instanceof SkiffError) throw new EndpointFailure(err.kind, err.message);
        throw err;
      }
      const mediaType = manifestMediaType(header(res, 'content-type'), bytes);
      if (SCHEMA1.has(mediaType)) {
        throw new Terminal(
          new SkiffError(
            'FailedPrecondition',
            `pulling ${formatReference(ref)}: schema 1 manifests are not supported (${mediaType}); the image must be re-pushed with a current client`,
          ),
        );
      }
      const digest = sha256(bytes);
      const expected = byDigest ? reference : header(res, 'docker-content-digest');
      // Only sha256 is checked: a registry announcing another algorithm is not wrong, just unverifiable here.
      if (expected !== undefined && expected.startsWith('sha256:') && expected !== digest) {
        throw new EndpointFailure('FailedPrecondition', `${what}: digest mismatch: expected ${expected}, got ${digest}`);
      }
      return { digest, mediaType, bytes, endpoint: endpoint.url };
    });
  }

  /**
   * Opens a blob for streaming. Not verified here: the caller hashes what it reads. Redirects
   * are followed (up to 5) without the Authorization header once they leave the registry's
   * origin. `preferEndpoint` (a FetchedManifest.endpoint) is tried first when still configured.
   */
  async getBlob(ref: ImageReference, digest: string, opts: FetchOptions & { preferEndpoint?: string }): Promise<BlobStream> {
    parseDigest(digest);
    const what = `blob ${digest}`;
    const endpoints = (await loadEndpoints(this.hostsDir, ref.domain)).filter((e) => e.capabilities.pull);
    const preferred = endpoints.findIndex((e) => e.url === opts.preferEndpoint);
    if (preferred > 0) endpoints.unshift(...endpoints.splice(preferred, 1));

    return this.tryEndpoints(ref, endpoints, what, opts, 'pull', async (endpoint, send) => {
      const res = await send({
        url: this.apiUrl(endpoint, ref, `blobs/${digest}`),
        method: 'GET',
        headers: { 'user-agent': this.userAgent },
        signal: opts.signal,
        tls: endpoint,
      });
      if (res.status !== 200) throw await statusFailure(res, what);
      const length = Number(header(res, 'content-length'));
      return { body: res.body, size: Number.isSafeInteger(length) && length >= 0 ? length : undefined, endpoint: endpoint.url };
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** `<api root>/<path>/<rest>`; mirrors also get `?ns=<registry>`, as containerd sends, so a shared mirror knows which registry is meant. */
  private apiUrl(endpoint: RegistryEndpoint, ref: ImageReference, rest: string): URL {
    const url = new URL(`${endpoint.url}/${ref.path}/${rest}`);
    if (endpoint.isMirror) url.searchParams.set('ns', ref.domain);
    return url;
  }

  private async tryEndpoints<T>(
    ref: ImageReference,
    endpoints: RegistryEndpoint[],
    what: string,
    opts: FetchOptions,
    capability: 'pull' | 'resolve',
    attempt: (endpoint: RegistryEndpoint, send: Send) => Promise<T>,
  ): Promise<T> {
    const name = formatReference(ref);
    if (endpoints.length === 0) {
      throw new SkiffError(
        'FailedPrecondition',
        `pulling ${name}: no endpoint for ${ref.domain} has the "${capability}" capability (see its hosts.toml)`,
      );
    }
    const failures: { endpoint: RegistryEndpoint; failure: EndpointFailure }[] = [];
    for (const [i, endpoint] of endpoints.entries()) {
      if (opts.signal?.aborted) throw abortError(opts.signal, ref);
      const send = this.authorizer.wrap(this.send, {
        repository: ref.path,
        credentials: credentialsForEndpoint(opts.credentials, endpoint),
      });
      try {
        return await attempt(endpoint, send);
      } catch (err) {
        if (opts.signal?.aborted) throw abortError(opts.signal, ref);
        if (err instanceof Terminal) throw err.error;
        const failure =
          err instanceof EndpointFailure
            ? err
            : err instanceof SkiffError
              ? new EndpointFailure(err.kind, err.message)
              : new EndpointFailure('Unavailable', `${what}: cannot connect: ${networkMessage(err)}`);
        failures.push({ endpoint, failure });
        if (i < endpoints.length - 1) {
          // A mirror lacking content is routine; one that errors is worth an operator's look.
          const level = failure.kind === 'NotFound' ? 'debug' : 'warn';
          this.log[level]({ image: name, endpoint: endpoint.url, err: failure }, 'registry endpoint failed, trying the next one');
        }
      }
    }
    const last = failures[failures.length - 1] as { failure: EndpointFailure };
    const detail = failures
      .map(({ endpoint, failure }) => `${endpoint.isMirror ? 'mirror ' : ''}${new URL(endpoint.url).host}: ${failure.message}`)
      .join('; ');
    throw new SkiffError(last.failure.kind, `pulling ${name}: ${detail}`);
  }
}
