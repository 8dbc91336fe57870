// Registry credentials as kubelet sends them with a pull (CRI AuthConfig), and the rules for
// where they may go.
//
// Kubelet picks the AuthConfig for the image's registry (from pull secrets or its credential
// providers), so the credentials belong to the registry host of the reference: Skiff sends
// them to that registry's upstream endpoint (and to the token service it names). A mirror is
// a different party: it gets the credentials only when `serverAddress` names the mirror's own
// host, since handing a registry password to whoever runs a mirror would leak it.

import { createHash } from 'node:crypto';

/** Mirrors CRI runtime.v1 AuthConfig. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** base64 of "username:password", as in Docker's config.json. */
  auth?: string;
  serverAddress?: string;
  /** An OAuth2 refresh token, exchanged at the token service. */
  identityToken?: string;
  /** A bearer token for the registry, used as is. */
  registryToken?: string;
}

/** The username/password pair, from the explicit fields or from `auth`. */
export function basicPair(c: RegistryCredentials | undefined): { username: string; password: string } | undefined {
  if (c === undefined) return undefined;
  if (c.username) return { username: c.username, password: c.password ?? '' };
  if (c.auth) {
    const decoded = Buffer.from(c.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}

/** `Basic …` for the credentials, or undefined when they hold no username/password. */
export function basicAuthHeader(c: RegistryCredentials | undefined): string | undefined {
  const pair = basicPair(c);
  if (pair === undefined) return undefined;
  return `Basic ${Buffer.from(`${pair.username}:${pair.password}`, 'utf8').toString('base64')}`;
}

export function hasCredentials(c: RegistryCredentials | undefined): boolean {
  return basicPair(c) !== undefined || Boolean(c?.identityToken) || Boolean(c?.registryToken);
}

/**
 * The host:port a `serverAddress` names: kubelet passes forms like `registry.example:5000`,
 * `https://registry.example/v1/` or `https://index.docker.io/v1/`.
 */
export function serverAddressHost(serverAddress: string): string | undefined {
  const text = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(serverAddress) ? serverAddress : `https://${serverAddress}`;
  try {
    return new URL(text).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * The credentials to use with an endpoint (see the module comment): all of them for the
 * registry itself, and for a mirror only when `serverAddress` is the mirror's host:port.
 */
export function credentialsForEndpoint(
  credentials: RegistryCredentials | undefined,
  endpoint: { url: string; isMirror: boolean },
): RegistryCredentials | undefined {
  if (credentials === undefined || !hasCredentials(credentials)) return undefined;
  if (!endpoint.isMirror) return credentials;
  if (credentials.serverAddress === undefined) return undefined;
  return serverAddressHost(credentials.serverAddress) === new URL(endpoint.url).host.toLowerCase() ? credentials : undefined;
}

/**
 * A one-way digest of the credentials, for cache keys: a token obtained with one pod's
 * secret must never be handed to a pull made without it.
 */
export function credentialsFingerprint(c: RegistryCredentials | undefined): string {
  if (c === undefined || !hasCredentials(c)) return 'anonymous';
  const pair = basicPair(c);
  const material = JSON.stringify([pair?.username ?? '', pair?.password ?? '', c.identityToken ?? '', c.registryToken ?? '']);
  return createHash('sha256').update(material).digest('hex').slice(0, 32);
}
