import http from 'node:http';
import type net from 'node:net';

export interface ProxyRule {
  /** Matches request paths (e.g. /v2/x/blobs/sha256:…). */
  match: (path: string) => boolean;
  /** Replace the response body with bytes that do not match the digest. */
  corrupt?: boolean;
  /** Send the headers and the first bytes, then nothing more (a stalled download). */
  stallAfterBytes?: number;
}

/**
 * A small HTTP server in front of a registry that counts requests and can
 * corrupt or stall chosen responses, for failure tests.
 */
export class RegistryProxy {
  readonly requests: string[] = [];
  rules: ProxyRule[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  count(pred: (path: string) => boolean): number {
    return this.requests.filter(pred).length;
  }

  static async start(upstream: string): Promise<RegistryProxy> {
    const holder: { proxy?: RegistryProxy } = {};
    const server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      holder.proxy!.requests.push(`${req.method} ${url}`);
      const rule = holder.proxy!.rules.find((r) => r.match(url));
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
      fetch(`${upstream}${url}`, { method: req.method ?? 'GET', headers, redirect: 'manual' })
        .then(async (up) => {
          const out: Record<string, string> = {};
          up.headers.forEach((v, k) => {
            if (k !== 'content-encoding' && k !== 'transfer-encoding') out[k] = v;
          });
          let body = Buffer.from(await up.arrayBuffer());
          if (rule?.corrupt && body.length > 0) {
            body = Buffer.from(body);
            const mid = body.length >> 1;
            body[mid] = (body[mid] ?? 0) ^ 0xff;
          }
          if (rule?.stallAfterBytes !== undefined) {
            res.writeHead(up.status, out);
            res.write(body.subarray(0, rule.stallAfterBytes));
            return; // never ends: the client must give up
          }
          res.writeHead(up.status, out);
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(502);
          res.end(err.message);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.proxy = new RegistryProxy(server, (server.address() as net.AddressInfo).port);
    return holder.proxy;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
