// Where to fetch a registry's content from: its mirrors, then the registry itself.
//
// Configuration follows containerd's `hosts.toml` layout so that existing node set-ups carry
// over. For an image on registry host H (the reference's domain, port included), the first
// of these that exists is used:
//
//   <configDir>/<name>_<port>_/hosts.toml   (only when H has a port; containerd's spelling)
//   <configDir>/H/hosts.toml
//   <configDir>/H/*.crt                      (directory without hosts.toml: Docker certs.d
//                                             style, the .crt files are extra CAs for H;
//                                             .cert/.key client certificates are not supported)
//   <configDir>/_default/hosts.toml          (fallback for every registry)
//
// With none of them, H is reached at https://H, except docker.io (https://registry-1.docker.io)
// and loopback hosts (localhost, 127.0.0.0/8, [::1]), which are reached over plain http.
// Files are read on every pull: edits apply to the next pull without a restart.
//
// File format (TOML; every key optional, unknown keys are errors naming the file and key):
//
//   server = "https://registry.example.com"   # the upstream, tried last. Default as above;
//                                             # a "docker.io" host means registry-1.docker.io
//   capabilities = ["pull", "resolve"]        # what the upstream may be used for (default both;
//                                             # "push" is accepted and ignored)
//   skip_verify = false                       # true: accept any TLS certificate
//   ca = "/etc/skiff/registry.d/ca.pem"        # extra CA file(s): a string or an array;
//                                             # relative paths are relative to this file
//   override_path = false                     # true: the URL path is the API root as is
//
//   [host."http://127.0.0.1:5000"]             # a mirror; mirrors are tried in file order,
//     capabilities = ["pull"]                  # before the upstream, with the same four keys
//     skip_verify = false                      # (capabilities, skip_verify, ca, override_path)
//     ca = ["/path/a.pem", "b.pem"]
//     override_path = false
//
// URLs: the scheme says http or https (https when omitted, http for loopback hosts). Unless
// `override_path` is true, "/v2" is appended to the URL path when it does not already end
// with it, so "https://mirror.example/cache" serves the API at https://mirror.example/cache/v2.
// Capabilities: "resolve" lets an endpoint turn a tag into a manifest digest, which means
// trusting it with what the image is; "pull" lets it serve content by digest, which Skiff
// verifies. A public mirror should get only "pull".
// containerd keys Skiff does not implement (client, header, dial_timeout, proxy) are refused
// rather than ignored, so a configuration never silently means less than it says.
// One file on purpose: hosts.toml parsing, validation and the endpoint order
// it yields are one format's rules.

import { promises as fs } from 'node:fs';
import path from 'node:path';

import { parse as parseToml } from 'smol-toml';

import { errnoCode, SkiffError } from '../../errors.js';

export interface RegistryEndpoint {
  /** The API root, ending in /v2 unless `override_path` said otherwise; no trailing slash. */
  url: string;
  capabilities: { pull: boolean; resolve: boolean };
  skipVerify: boolean;
  /** Absolute paths of extra CA certificates (PEM), trusted on top of the system roots. */
  caFiles: string[];
  /** True for `[host."…"]` entries, false for the registry itself (`server`). */
  isMirror: boolean;
}

export const HOSTS_FILE = 'hosts.toml';
export const DEFAULT_HOST_DIR = '_default';
const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

const ENDPOINT_KEYS = ['capabilities', 'skip_verify', 'ca', 'override_path'] as const;
const TOP_KEYS = ['server', ...ENDPOINT_KEYS, 'host'] as const;
const UNSUPPORTED_KEYS = new Set(['client', 'header', 'dial_timeout', 'proxy']);
const CAPABILITIES = new Set(['pull', 'resolve', 'push']);

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** A hosts.toml problem, naming the file and the key at fault. */
export class HostsFileError extends SkiffError {
  constructor(
    readonly file: string,
    readonly key: string | undefined,
    readonly problem: string,
  ) {
    super('FailedPrecondition', `registry hosts file ${file}: ${key === undefined ? '' : `${key}: `}${problem}`);
  }
}

/** Splits `name:port`, `[v6]:port` or a bare name; the brackets of IPv6 stay on the name. */
function splitPort(host: string): { name: string; port: string | undefined } {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    const rest = host.slice(close + 1);
    return { name: host.slice(0, close + 1), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && /^[0-9]+$/.test(host.slice(colon + 1))) {
    return { name: host.slice(0, colon), port: host.slice(colon + 1) };
  }
  return { name: host, port: undefined };
}

/** localhost, 127.0.0.0/8 or ::1, with or without a port: registries that speak plain http. */
export function isLoopbackHost(host: string): boolean {
  const { name } = splitPort(host);
  return name === 'localhost' || name === '[::1]' || /^127(?:\.[0-9]{1,3}){3}$/.test(name);
}

function defaultServerUrl(host: string): string {
  if (host === DOCKER_HUB) return `https://${DOCKER_HUB_API_HOST}`;
  return `${isLoopbackHost(host) ? 'http' : 'https'}://${host}`;
}

/** The registry itself when no configuration applies. */
export function defaultEndpoint(host: string, caFiles: string[] = []): RegistryEndpoint {
  return {
    url: apiRoot(new URL(defaultServerUrl(host)), false),
    capabilities: { pull: true, resolve: true },
    skipVerify: false,
    caFiles,
    isMirror: false,
  };
}

function apiRoot(u: URL, overridePath: boolean): string {
  let p = u.pathname.replace(/\/+$/, '');
  if (!overridePath && !p.endsWith('/v2')) p = `${p}/v2`;
  return `${u.protocol}//${u.host}${p}`;
}

interface EndpointSettings {
  capabilities: { pull: boolean; resolve: boolean };
  skipVerify: boolean;
  caFiles: string[];
  overridePath: boolean;
}

/** Reads the keys shared by the upstream and the mirrors out of `t`. */
function readSettings(t: Table, file: string, prefix: string): EndpointSettings {
  const key = (k: string): string => `${prefix}${k}`;
  const settings: EndpointSettings = {
    capabilities: { pull: true, resolve: true },
    skipVerify: false,
    caFiles: [],
    overridePath: false,
  };
  const caps = t['capabilities'];
  if (caps !== undefined) {
    if (!Array.isArray(caps) || !caps.every((c): c is string => typeof c === 'string')) {
      throw new HostsFileError(file, key('capabilities'), 'expected an array of strings ("pull", "resolve", "push")');
    }
    for (const c of caps) {
      if (!CAPABILITIES.has(c)) {
        throw new HostsFileError(
          file,
          key('capabilities'),
          `unknown capability ${JSON.stringify(c)} (expected "pull", "resolve" or "push")`,
        );
      }
    }
    settings.capabilities = { pull: caps.includes('pull'), resolve: caps.includes('resolve') };
  }
  const skip = t['skip_verify'];
  if (skip !== undefined) {
    if (typeof skip !== 'boolean') throw new HostsFileError(file, key('skip_verify'), 'expected true or false');
    settings.skipVerify = skip;
  }
  const override = t['override_path'];
  if (override !== undefined) {
    if (typeof override !== 'boolean') throw new HostsFileError(file, key('override_path'), 'expected true or false');
    settings.overridePath = override;
  }
  const ca = t['ca'];
  if (ca !== undefined) {
    const list = typeof ca === 'string' ? [ca] : ca;
    if (!Array.isArray(list) || !list.every((c): c is string => typeof c === 'string' && c !== '')) {
      throw new HostsFileError(file, key('ca'), 'expected a file path or an array of file paths');
    }
    settings.caFiles = list.map((c) => path.resolve(path.dirname(file), c));
  }
  return settings;
}

function checkKeys(t: Table, allowed: readonly string[], file: string, prefix: string): void {
  for (const k of Object.keys(t)) {
    if (allowed.includes(k)) continue;
    const problem = UNSUPPORTED_KEYS.has(k) ? 'not supported by skiff' : `unknown key (expected ${allowed.join(', ')})`;
    throw new HostsFileError(file, `${prefix}${k}`, problem);
  }
}

/** Parses an endpoint URL; a missing scheme means https, or http for a loopback host. */
function parseEndpointUrl(text: string, file: string, key: string): URL {
  let u: URL;
  try {
    const hasScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text);
    u = new URL(hasScheme ? text : `${isLoopbackHost(text.split('/')[0] ?? '') ? 'http' : 'https'}://${text}`);
  } catch {
    throw new HostsFileError(file, key, `invalid URL ${JSON.stringify(text)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new HostsFileError(file, key, `URL ${JSON.stringify(text)} must use http or https`);
  }
  if (u.username !== '' || u.password !== '') {
    throw new HostsFileError(file, key, 'credentials do not belong in the URL; kubelet passes them with each pull');
  }
  if (u.search !== '' || u.hash !== '') {
    throw new HostsFileError(file, key, `URL ${JSON.stringify(text)} must not have a query or fragment`);
  }
  return u;
}

/**
 * Parses the text of a hosts.toml for registry `host` into endpoints: mirrors in file
 * order, then the upstream. Throws HostsFileError naming `file` and the key at fault.
 */
export function parseHostsToml(text: string, file: string, host: string): RegistryEndpoint[] {
  let doc: Table;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw new HostsFileError(file, undefined, `invalid TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  checkKeys(doc, TOP_KEYS, file, '');

  const endpoints: RegistryEndpoint[] = [];
  const hosts = doc['host'];
  if (hosts !== undefined) {
    if (!isTable(hosts)) throw new HostsFileError(file, 'host', 'expected tables [host."<url>"]');
    // TOML tables keep their file order in the parsed object (URL keys are never integer-like).
    for (const [urlText, value] of Object.entries(hosts)) {
      const prefix = `host.${JSON.stringify(urlText)}.`;
      if (!isTable(value)) throw new HostsFileError(file, `host.${JSON.stringify(urlText)}`, 'expected a table');
      checkKeys(value, ENDPOINT_KEYS, file, prefix);
      const settings = readSettings(value, file, prefix);
      const u = parseEndpointUrl(urlText, file, `host.${JSON.stringify(urlText)}`);
      endpoints.push({
        url: apiRoot(u, settings.overridePath),
        capabilities: settings.capabilities,
        skipVerify: settings.skipVerify,
        caFiles: settings.caFiles,
        isMirror: true,
      });
    }
  }

  const server = doc['server'];
  if (server !== undefined && (typeof server !== 'string' || server === '')) {
    throw new HostsFileError(file, 'server', 'expected a URL string');
  }
  const upstream = parseEndpointUrl(server ?? defaultServerUrl(host), file, 'server');
  // Docker Hub's name is not where its API lives.
  if (upstream.hostname === DOCKER_HUB) upstream.hostname = DOCKER_HUB_API_HOST;
  const settings = readSettings(doc, file, '');
  endpoints.push({
    url: apiRoot(upstream, settings.overridePath),
    capabilities: settings.capabilities,
    skipVerify: settings.skipVerify,
    caFiles: settings.caFiles,
    isMirror: false,
  });
  return endpoints;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new HostsFileError(file, undefined, `cannot read: ${(err as Error).message}`);
  }
}

/** The .crt files of a Docker certs.d style directory, or undefined when there is no such directory. */
async function certsDirCAs(dir: string): Promise<string[] | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new HostsFileError(dir, undefined, `cannot read: ${(err as Error).message}`);
  }
  return names
    .filter((n) => n.endsWith('.crt'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Directory names tried for `host`, most specific first (see the module comment). */
function hostDirNames(host: string): string[] {
  const { name, port } = splitPort(host);
  return port === undefined ? [host] : [`${name}_${port}_`, host];
}

/**
 * The endpoints to try for registry `host`, in order: configured mirrors, then the upstream.
 * `host` is a reference domain (already validated by the reference grammar).
 */
export async function loadEndpoints(configDir: string, host: string): Promise<RegistryEndpoint[]> {
  if (host === '' || host.includes('/') || host === '.' || host === '..') {
    throw new SkiffError('InvalidArgument', `invalid registry host ${JSON.stringify(host)}`);
  }
  for (const dirName of hostDirNames(host)) {
    const dir = path.join(configDir, dirName);
    const file = path.join(dir, HOSTS_FILE);
    const text = await readIfExists(file);
    if (text !== undefined) return parseHostsToml(text, file, host);
    const cas = await certsDirCAs(dir);
    if (cas !== undefined) return [defaultEndpoint(host, cas)];
  }
  const fallback = path.join(configDir, DEFAULT_HOST_DIR, HOSTS_FILE);
  const text = await readIfExists(fallback);
  if (text !== undefined) return parseHostsToml(text, fallback, host);
  return [defaultEndpoint(host)];
}
