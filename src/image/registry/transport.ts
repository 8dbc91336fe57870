// The bottom of the registry client: one HTTP exchange over undici, with the TLS settings of
// the endpoint it is for. The layers above (redirect.ts, auth.ts, client.ts) are plain
// functions of type `Send` wrapped around this one, the same shape as undici interceptors but
// at the level of whole responses: the auth layer must read a 401 and then retry, which is
// simplest with the response in hand.

import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

import { Agent, type Dispatcher, request } from 'undici';

import { SkiffError } from '../../errors.js';

export interface TlsSettings {
  skipVerify: boolean;
  /** Extra CA files (PEM), trusted in addition to the system roots. */
  caFiles: string[];
}

export interface HttpRequest {
  url: URL;
  method: 'GET' | 'HEAD' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** The TLS settings of the endpoint this request serves, also used for its redirects. */
  tls: TlsSettings;
}

export interface HttpResponse {
  /** The URL that answered (after redirects). */
  url: URL;
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
}

export type Send = (req: HttpRequest) => Promise<HttpResponse>;

/** First value of a response header. */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Why: a stalled mirror should fail over in a minute, not after undici's 5-minute defaults. */
const CONNECT_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 60_000;
/** Between body chunks; the puller has its own progress watchdog on top. */
const BODY_TIMEOUT_MS = 120_000;

/** Owns one undici Agent per distinct TLS setting, so connections are pooled per setting. */
export class Transport {
  private readonly agents = new Map<string, Agent>();

  readonly send: Send = async (req) => {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body ?? null,
      signal: req.signal ?? null,
      dispatcher: this.agentFor(req.tls),
    });
    return { url: req.url, status: res.statusCode, headers: res.headers, body: res.body };
  };

  private agentFor(tls: TlsSettings): Agent {
    const key = JSON.stringify([tls.skipVerify, [...tls.caFiles].sort()]);
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = new Agent({
        connect: {
          rejectUnauthorized: !tls.skipVerify,
          // Node's `ca` replaces the default roots: add the system roots back, so an extra CA
          // widens trust instead of narrowing it (a registry may redirect blobs to a CDN).
          ...(tls.caFiles.length > 0 ? { ca: [...rootCertificates, ...tls.caFiles.map(readCa)] } : {}),
          timeout: CONNECT_TIMEOUT_MS,
        },
        headersTimeout: HEADERS_TIMEOUT_MS,
        bodyTimeout: BODY_TIMEOUT_MS,
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Ends every connection, aborting requests still running: close happens at daemon stop,
   * after pulls were cancelled, and a body some caller forgot to consume must not hold it up.
   */
  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.destroy()));
  }
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new SkiffError('FailedPrecondition', `registry CA file ${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
}
