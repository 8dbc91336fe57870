// Registry authorization, as a layer around `Send`.
//
// A registry says how it wants to be authorized in the WWW-Authenticate header of a 401:
// - Basic: the username/password go to the registry on every request.
// - Bearer (the Docker token protocol, also used by OCI registries): a token is fetched from
//   the `realm` URL for the `service` and `scope` (`repository:<path>:pull`), then sent as
//   `Authorization: Bearer <token>`. With a username/password the token request is a GET
//   carrying Basic credentials; with an identity token (an OAuth2 refresh token) it is a
//   form POST with grant_type=refresh_token. Anonymous pulls get a token too.
// - A CRI `registryToken` is already a bearer token: it is sent as is.
//
// What a host asked for is remembered per origin, so later requests are authorized up front
// instead of being refused first. Tokens are cached until `expires_in` (default 60 s) after
// `issued_at`, keyed by origin, service, scopes and a fingerprint of the credentials used:
// a token earned with one pod's secret is never reused for a pull made without it.
// Concurrent requests needing the same token share one fetch.

import { SkiffError } from '../../errors.js';
import { readLimited } from './body.js';
import { type Challenge, parseChallenges } from './challenge.js';
import { basicAuthHeader, basicPair, credentialsFingerprint, type RegistryCredentials } from './credentials.js';
import { readErrorBody } from './error-body.js';
import type { HttpRequest, HttpResponse, Send, TlsSettings } from './transport.js';

export interface AuthContext {
  /** Repository path the requests are about (`library/busybox`), for the token scope. */
  repository: string;
  /** The credentials this endpoint may receive (see credentials.ts), if any. */
  credentials: RegistryCredentials | undefined;
}

type HostAuth = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service: string | undefined };

interface CachedToken {
  token: string;
  expiresAt: number;
}

const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Refresh a little early: a token expiring in flight costs a refused request. */
const MAX_EXPIRY_MARGIN_MS = 5_000;
const MAX_TOKEN_RESPONSE = 1024 * 1024;
/** Past this many cached tokens, expired ones are swept on insert. */
const SWEEP_THRESHOLD = 256;
export const OAUTH_CLIENT_ID = 'skiff';

/** A refusal by a registry or token service; the message always says "unauthorized". */
export function authFailure(host: string, status: number, detail: string | undefined): SkiffError {
  return new SkiffError(
    'FailedPrecondition',
    `authentication to ${host} failed: ${status} unauthorized${detail === undefined ? '' : `: ${detail}`}`,
  );
}

function hostAuthOf(challenges: Challenge[]): HostAuth | undefined {
  const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm']);
  if (bearer !== undefined) {
    return { scheme: 'bearer', realm: bearer.params['realm'] as string, service: bearer.params['service'] };
  }
  if (challenges.some((c) => c.scheme === 'basic')) return { scheme: 'basic' };
  return undefined;
}

const sameHostAuth = (a: HostAuth | undefined, b: HostAuth): boolean =>
  a !== undefined &&
  a.scheme === b.scheme &&
  (a.scheme === 'basic' || (b.scheme === 'bearer' && a.realm === b.realm && a.service === b.service));

const withAuthorization = (req: HttpRequest, value: string): HttpRequest => ({
  ...req,
  headers: { ...req.headers, authorization: value },
});

/** Resolves like `p` unless `signal` aborts first; `p` itself is shared and keeps running. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as unknown);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

interface Authorization {
  header: string;
  /** The token cache entry it came from, when it was not fetched for this request. */
  cachedKey?: string;
}

export class Authorizer {
  private readonly hosts = new Map<string, HostAuth>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  /** `send` carries token requests; it should follow redirects. */
  constructor(
    private readonly send: Send,
    private readonly userAgent: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Wraps `next` so each request is authorized for `ctx`, answering at most one challenge. */
  wrap(next: Send, ctx: AuthContext): Send {
    return (req) => this.sendAuthorized(next, req, ctx);
  }

  private async sendAuthorized(next: Send, req: HttpRequest, ctx: AuthContext): Promise<HttpResponse> {
    const registryToken = ctx.credentials?.registryToken;
    if (registryToken) return next(withAuthorization(req, `Bearer ${registryToken}`));

    const origin = req.url.origin;
    const known = this.hosts.get(origin);
    const first = known === undefined ? undefined : await this.authorization(known, ctx, req, []);
    const res = await next(first === undefined ? req : withAuthorization(req, first.header));
    if (res.status !== 401) return res;

    const challenges = parseChallenges(res.headers['www-authenticate']);
    const asked = hostAuthOf(challenges);
    if (asked === undefined) return res;
    // Freshly obtained authorization refused under the same rules: retrying cannot help.
    if (first !== undefined && first.cachedKey === undefined && sameHostAuth(known, asked)) return res;
    this.hosts.set(origin, asked);
    if (first?.cachedKey !== undefined) this.tokens.delete(first.cachedKey);

    const challengeScopes = challenges.find((c) => c.scheme === 'bearer')?.params['scope']?.split(' ') ?? [];
    const retry = await this.authorization(asked, ctx, req, challengeScopes);
    if (retry === undefined) return res;
    await res.body.dump().catch(() => undefined);
    return next(withAuthorization(req, retry.header));
  }

  /** The Authorization value for `auth`, fetching a token if needed; undefined when none applies. */
  private async authorization(
    auth: HostAuth,
    ctx: AuthContext,
    req: HttpRequest,
    extraScopes: string[],
  ): Promise<Authorization | undefined> {
    if (auth.scheme === 'basic') {
      const value = basicAuthHeader(ctx.credentials);
      return value === undefined ? undefined : { header: value };
    }
    const scopes = [...new Set([...extraScopes.filter((s) => s !== ''), `repository:${ctx.repository}:pull`])].sort();
    const key = JSON.stringify([req.url.origin, auth.realm, auth.service ?? '', scopes, credentialsFingerprint(ctx.credentials)]);
    const cached = this.tokens.get(key);
    // After a refusal the refused token is already gone from the cache, so a hit here is a
    // token fetched since (by a concurrent request), not the one that failed.
    if (cached !== undefined && cached.expiresAt > this.now()) {
      return { header: `Bearer ${cached.token}`, cachedKey: key };
    }
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = this.fetchToken(auth, scopes, ctx.credentials, req).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    const token = await raceAbort(pending, req.signal);
    this.remember(key, token);
    return { header: `Bearer ${token.token}` };
  }

  private remember(key: string, token: CachedToken): void {
    if (this.tokens.size >= SWEEP_THRESHOLD) {
      const now = this.now();
      for (const [k, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(k);
    }
    this.tokens.set(key, token);
  }

  private async fetchToken(
    auth: { realm: string; service: string | undefined },
    scopes: string[],
    credentials: RegistryCredentials | undefined,
    req: HttpRequest,
  ): Promise<CachedToken> {
    let realm: URL;
    try {
      realm = new URL(auth.realm);
    } catch {
      throw new SkiffError('Unavailable', `${req.url.host} named an invalid token realm ${JSON.stringify(auth.realm)}`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new SkiffError('Unavailable', `${req.url.host} named a token realm with unsupported scheme ${realm.protocol}`);
    }
    const pair = basicPair(credentials);
    const identityToken = credentials?.identityToken;
    // A registry reached over TLS must not be able to downgrade where its secrets go.
    if ((pair !== undefined || identityToken) && realm.protocol === 'http:' && req.url.protocol === 'https:') {
      throw new SkiffError(
        'FailedPrecondition',
        `refusing to send credentials for ${req.url.host} to plain-http token realm ${realm.href}`,
      );
    }

    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json' };
    const tls: TlsSettings = req.tls;
    let tokenReq: HttpRequest;
    if (identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: identityToken, client_id: OAUTH_CLIENT_ID });
      if (auth.service !== undefined) form.set('service', auth.service);
      form.set('scope', scopes.join(' '));
      headers['content-type'] = 'application/x-www-form-urlencoded';
      tokenReq = { url: realm, method: 'POST', headers, body: form.toString(), tls };
    } else {
      const url = new URL(realm);
      if (auth.service !== undefined) url.searchParams.set('service', auth.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const basic = basicAuthHeader(credentials);
      if (basic !== undefined) headers['authorization'] = basic;
      tokenReq = { url, method: 'GET', headers, tls };
    }

    const issuedLocally = this.now();
    const res = await this.send(tokenReq);
    if (res.status !== 200) {
      const detail = await readErrorBody(res);
      if (res.status === 401 || res.status === 403) throw authFailure(realm.host, res.status, detail);
      throw new SkiffError('Unavailable', `token service ${realm.host} answered ${res.status}${detail === undefined ? '' : `: ${detail}`}`);
    }
    const body = (await readLimited(res, MAX_TOKEN_RESPONSE, 'token response')).toString('utf8');
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse(body) as typeof doc;
    } catch {
      throw new SkiffError('Unavailable', `token service ${realm.host} returned invalid JSON`);
    }
    const token = typeof doc.token === 'string' && doc.token !== '' ? doc.token : doc.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new SkiffError('Unavailable', `token service ${realm.host} returned no token`);
    }
    const lifetimeMs = (typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_LIFETIME_S) * 1000;
    const issued = typeof doc.issued_at === 'string' ? Date.parse(doc.issued_at) : NaN;
    // A server clock ahead of ours must not extend the token's life past what it said.
    const start = Number.isNaN(issued) ? issuedLocally : Math.min(issued, issuedLocally);
    return { token, expiresAt: start + lifetimeMs - Math.min(MAX_EXPIRY_MARGIN_MS, lifetimeMs / 10) };
  }
}
