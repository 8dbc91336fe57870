// The streaming server kubelet and crictl are sent to by Exec, Attach and
// PortForward: HTTP (or HTTPS) on its own address, each request under a
// single-use token, upgraded to SPDY/3.1 or WebSocket. Every connection is
// closed after the idle timeout and when the server closes.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { type AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';

import type { Logger } from '../log.js';
import type { DialPort } from '../network/port-dialer.js';
import { EXEC_PROTOCOLS } from './exec-status.js';
import { SpdySession } from './spdy/session.js';
import { serveSpdyPortForward } from './spdy-portforward.js';
import { serveSpdyRemoteCommand } from './spdy-remotecommand.js';
import type { AttachRequest, ExecRequest, OpenTarget } from './stream-session.js';
import { TokenCache } from './tokens.js';
import { serveWsPortForward, WS_PORTFORWARD_PROTOCOLS } from './ws-portforward.js';
import { serveWsRemoteCommand, WS_REMOTECOMMAND_PROTOCOLS } from './ws-remotecommand.js';

export interface PortForwardRequest {
  podId: string;
  /** The ports of a WebSocket port-forward (SPDY streams name theirs). */
  ports: number[];
}

/** What the server runs sessions against (the container and pod services). */
export interface StreamBackend {
  openExec(req: ExecRequest): OpenTarget;
  openAttach(req: AttachRequest): OpenTarget;
  /** A dialer for the pod's network namespace; throws when the pod is gone. */
  portDialer(podId: string): DialPort;
}

export interface StreamServerOptions {
  address: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
  backend: StreamBackend;
  log: Logger;
  tokenTtlMs?: number;
  /** A connection that carries nothing for this long is closed. */
  idleTimeoutMs?: number;
  /** The clock tokens expire by (tests move it). */
  clock?: () => number;
}

type Pending =
  | { kind: 'exec'; request: ExecRequest }
  | { kind: 'attach'; request: AttachRequest }
  | { kind: 'portforward'; request: PortForwardRequest };

const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';
/** client-go's SPDY-in-WebSocket port-forward subprotocol. */
const SPDY_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
/** `ws` accepts only RFC 7230 tokens as subprotocols, and '/' is not one: the tunnel is renamed while `ws` looks. */
const SPDY_TUNNEL_ALIAS = 'skiff-spdy-tunnel.portforward.k8s.io';
const DEFAULT_IDLE_TIMEOUT_MS = 4 * 3600 * 1000;

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
  private readonly remoteCommandWss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => WS_REMOTECOMMAND_PROTOCOLS.find((p) => protocols.has(p)) ?? false,
  });
  private readonly portForwardWss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => [SPDY_TUNNEL_ALIAS, ...WS_PORTFORWARD_PROTOCOLS].find((p) => protocols.has(p)) ?? false,
  });
  private readonly sockets = new Set<Duplex>();
  private baseUrl = '';

  constructor(private readonly o: StreamServerOptions) {
    this.tokens = new TokenCache<Pending>(o.tokenTtlMs ?? 60_000, undefined, o.clock);
    const handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('this endpoint needs an upgrade to SPDY/3.1 or WebSocket\n');
    };
    this.server = o.tls
      ? https.createServer({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) }, handler)
      : http.createServer(handler);
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.portForwardWss.on('headers', (headers) => {
      for (let i = 0; i < headers.length; i++) {
        if (headers[i] === `Sec-WebSocket-Protocol: ${SPDY_TUNNEL_ALIAS}`) headers[i] = `Sec-WebSocket-Protocol: ${SPDY_TUNNEL_PROTOCOL}`;
      }
    });
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

  attach(request: AttachRequest): string {
    return `${this.baseUrl}/attach/${this.tokens.put({ kind: 'attach', request })}`;
  }

  portForward(request: PortForwardRequest): string {
    return `${this.baseUrl}/portforward/${this.tokens.put({ kind: 'portforward', request })}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.remoteCommandWss.close();
    this.portForwardWss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {}); // a vanished client must not crash the daemon
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    this.armIdleTimeout(socket);
    const url = new URL(req.url ?? '/', 'http://x');
    const match = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
    const pending = match?.[2] ? this.tokens.take(match[2]) : undefined;
    if (!match || !pending || pending.kind !== match[1]) {
      reject(socket, 404, 'Not Found', '');
      return;
    }
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'spdy/3.1') this.upgradeSpdy(req, socket, head, pending);
    else if (upgrade === 'websocket') this.upgradeWebSocket(req, socket, head, pending, url);
    else reject(socket, 400, 'Bad Request', 'expected an upgrade to SPDY/3.1 or WebSocket\n');
  }

  /** Closes the connection when it carries nothing for the idle timeout (`ws` clears a socket's timeout: re-armed after its upgrade). */
  private armIdleTimeout(socket: Duplex): void {
    const idle = this.o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!(socket instanceof Socket)) return;
    socket.setTimeout(idle, () => {
      this.o.log.info({ idleMs: idle }, 'stream connection idle; closing it');
      socket.destroy();
    });
  }

  private upgradeSpdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, pending: Pending): void {
    const protocols = offered(req.headers['x-stream-protocol-version']);
    const supported: readonly string[] = pending.kind === 'portforward' ? [PORTFORWARD_PROTOCOL] : EXEC_PROTOCOLS;
    const chosen = supported.find((p) => protocols.includes(p));
    if (!chosen) {
      reject(socket, 403, 'Forbidden', `unsupported stream protocols ${JSON.stringify(protocols)}; supported: ${supported.join(', ')}\n`);
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${chosen}\r\n\r\n`,
    );
    const session = new SpdySession(socket);
    if (head.length) socket.unshift(head);
    this.serveSpdy(session, pending, chosen);
  }

  private serveSpdy(session: SpdySession, pending: Pending, protocol: string): void {
    const log = this.logFor(pending);
    switch (pending.kind) {
      case 'exec':
        return serveSpdyRemoteCommand(session, pending.request, protocol, this.o.backend.openExec(pending.request), log);
      case 'attach':
        return serveSpdyRemoteCommand(session, pending.request, protocol, this.o.backend.openAttach(pending.request), log);
      case 'portforward':
        return this.withDialer(pending.request.podId, log, session, (dial) =>
          serveSpdyPortForward(session, pending.request.podId, dial, log),
        );
    }
  }

  private upgradeWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, pending: Pending, url: URL): void {
    const log = this.logFor(pending);
    if (pending.kind !== 'portforward') {
      this.remoteCommandWss.handleUpgrade(req, socket, head, (ws) => {
        this.armIdleTimeout(socket);
        if (!ws.protocol) return void ws.close(1002, `no supported subprotocol; supported: ${WS_REMOTECOMMAND_PROTOCOLS.join(', ')}`);
        const open = pending.kind === 'exec' ? this.o.backend.openExec(pending.request) : this.o.backend.openAttach(pending.request);
        serveWsRemoteCommand(ws, pending.request, open, log);
      });
      return;
    }
    const offeredWs = offered(req.headers['sec-websocket-protocol']);
    if (offeredWs.includes(SPDY_TUNNEL_PROTOCOL)) {
      req.headers['sec-websocket-protocol'] = offeredWs.map((p) => (p === SPDY_TUNNEL_PROTOCOL ? SPDY_TUNNEL_ALIAS : p)).join(', ');
    }
    this.portForwardWss.handleUpgrade(req, socket, head, (ws) => {
      this.armIdleTimeout(socket);
      const { podId } = pending.request;
      if (ws.protocol === SPDY_TUNNEL_ALIAS) {
        const session = new SpdySession(createWebSocketStream(ws));
        this.withDialer(podId, log, session, (dial) => serveSpdyPortForward(session, podId, dial, log));
        return;
      }
      const ports = pending.request.ports.length ? pending.request.ports : queryPorts(url);
      if (!ports) return void ws.close(1008, 'port-forward needs ports: in the request or as ?port= parameters');
      this.withDialer(podId, log, ws, (dial) => serveWsPortForward(ws, podId, ports, dial, log));
    });
  }

  private withDialer(podId: string, log: Logger, conn: SpdySession | WebSocket, serve: (dial: DialPort) => void): void {
    let dial: DialPort;
    try {
      dial = this.o.backend.portDialer(podId);
    } catch (err) {
      log.info({ err }, 'port-forward to a pod that is gone');
      if (conn instanceof SpdySession) conn.goAway();
      else conn.close(1011, (err as Error).message.slice(0, 120));
      return;
    }
    serve(dial);
  }

  private logFor(pending: Pending): Logger {
    return pending.kind === 'portforward'
      ? this.o.log.child({ stream: 'portforward', pod: pending.request.podId })
      : this.o.log.child({ stream: pending.kind, container: pending.request.containerId });
  }
}

function reject(socket: Duplex, code: number, reason: string, body: string): void {
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** ?port=80&port=8080 or ?port=80,8080; undefined when missing or invalid. */
function queryPorts(url: URL): number[] | undefined {
  const ports = url.searchParams
    .getAll('port')
    .flatMap((v) => v.split(','))
    .map((v) => (/^\d{1,5}$/.test(v.trim()) ? Number(v.trim()) : NaN));
  return ports.length && ports.every((p) => p >= 1 && p <= 65535) ? ports : undefined;
}
