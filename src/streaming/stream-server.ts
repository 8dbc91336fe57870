// The streaming server kubelet and crictl are sent to by Exec (and, later,
// Attach and PortForward): HTTP on its own address, each request under a
// single-use token, upgraded to SPDY/3.1 or WebSocket.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { WebSocketServer } from 'ws';

import type { Logger } from '../log.js';
import type { ExecRequest, StartExec } from './exec-runner.js';
import { EXEC_PROTOCOLS } from './exec-status.js';
import { SpdySession } from './spdy/session.js';
import { serveSpdyExec } from './spdy-exec.js';
import { TokenCache } from './tokens.js';
import { serveWsExec, WS_EXEC_PROTOCOLS } from './ws-exec.js';

export interface StreamServerOptions {
  address: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
  startExec: StartExec;
  log: Logger;
  tokenTtlMs?: number;
}

type Pending = { kind: 'exec'; request: ExecRequest };

/** The protocols a client offered, from repeated or comma-joined headers. */
export function offered(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value : [value ?? ''])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export class StreamServer {
  private readonly server: http.Server;
  private readonly tokens: TokenCache<Pending>;
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => WS_EXEC_PROTOCOLS.find((p) => protocols.has(p)) ?? false,
  });
  private readonly sockets = new Set<Duplex>();
  private baseUrl = '';

  constructor(private readonly o: StreamServerOptions) {
    this.tokens = new TokenCache<Pending>(o.tokenTtlMs ?? 60_000);
    const handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('this endpoint needs an upgrade to SPDY/3.1 or WebSocket\n');
    };
    this.server = o.tls
      ? https.createServer({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) }, handler)
      : http.createServer(handler);
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.address, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.baseUrl = `${this.o.tls ? 'https' : 'http'}://${host}:${addr.port}`;
    return this.baseUrl;
  }

  /** Where the server listens, e.g. http://127.0.0.1:40123. */
  get url(): string {
    return this.baseUrl;
  }

  /** The absolute URL a client dials for this exec. */
  exec(request: ExecRequest): string {
    return `${this.baseUrl}/exec/${this.tokens.put({ kind: 'exec', request })}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {}); // a vanished client must not crash the daemon
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const match = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const pending = match?.[2] ? this.tokens.take(match[2]) : undefined;
    if (!match || !pending || pending.kind !== match[1]) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const log = this.o.log.child({ stream: match[1], container: pending.request.containerId });
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'spdy/3.1') {
      const protocols = offered(req.headers['x-stream-protocol-version']);
      const chosen = EXEC_PROTOCOLS.find((p) => protocols.includes(p));
      if (!chosen) {
        const body = `unsupported stream protocols ${JSON.stringify(protocols)}; supported: ${EXEC_PROTOCOLS.join(', ')}\n`;
        socket.end(
          `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
        return;
      }
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${chosen}\r\n\r\n`,
      );
      const session = new SpdySession(socket);
      if (head.length) socket.unshift(head);
      serveSpdyExec(session, pending.request, chosen, this.o.startExec, log);
      return;
    }
    if (upgrade === 'websocket') {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        if (!ws.protocol) {
          ws.close(1002, 'no supported subprotocol');
          return;
        }
        serveWsExec(ws, pending.request, this.o.startExec, log);
      });
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  }
}
