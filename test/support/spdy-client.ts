// A SPDY/3.1 streaming client for tests, behaving as client-go's does: the
// upgrade with X-Stream-Protocol-Version offers, one stream per channel
// opened in turn (each waits for its SYN_REPLY), header blocks compressed with
// the SPDY dictionary, and every stream's data collected until FIN or reset.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';

import {
  dataFrame,
  FLAG_FIN,
  FrameReader,
  FrameType,
  pingFrame,
  RstStatus,
  rstStreamFrame,
  streamIdOf,
  synStreamFrame,
} from '../../src/streaming/spdy/frames.js';
import { DictionaryHeaderEncoder, HeaderDecoder } from '../../src/streaming/spdy/header-codec.js';

export interface UpgradeAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class ClientStream extends EventEmitter<{ data: [Buffer]; end: []; reset: [] }> {
  readonly chunks: Buffer[] = [];
  ended = false;
  wasReset = false;
  readonly closed: Promise<void>;

  constructor(
    readonly id: number,
    readonly type: string,
    private readonly client: SpdyTestClient,
  ) {
    super();
    this.closed = new Promise((resolve) => {
      this.once('end', () => resolve());
      this.once('reset', () => resolve());
    });
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }

  write(data: Buffer | string): void {
    this.client.send(dataFrame(this.id, Buffer.from(data)));
  }

  end(): void {
    this.client.send(dataFrame(this.id, Buffer.alloc(0), true));
  }

  reset(): void {
    this.client.send(rstStreamFrame(this.id, RstStatus.Cancel));
  }
}

export class SpdyTestClient {
  private readonly reader = new FrameReader();
  private readonly encoder = new DictionaryHeaderEncoder();
  private readonly decoder = new HeaderDecoder();
  private readonly streams = new Map<number, ClientStream>();
  private readonly replies = new Map<number, () => void>();
  private nextId = 1;
  goAway = false;
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: Duplex,
    readonly protocol: string,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
  }

  /** A client on a connection already upgraded (e.g. SPDY tunnelled in WebSocket). */
  static over(conn: Duplex, protocol: string): SpdyTestClient {
    const client = new SpdyTestClient(conn, protocol);
    conn.on('data', (c: Buffer) => client.onData(c));
    return client;
  }

  /** Upgrades; resolves with the client, or with the refusing answer. */
  static async connect(url: string, protocols: string[]): Promise<{ client?: SpdyTestClient; answer: UpgradeAnswer }> {
    const u = new URL(url);
    const socket = net.connect(Number(u.port), u.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(
      [
        `POST ${u.pathname} HTTP/1.1`,
        `Host: ${u.host}`,
        'Connection: Upgrade',
        'Upgrade: SPDY/3.1',
        ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    let buf = Buffer.alloc(0);
    const headEnd = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk]);
        const at = buf.indexOf('\r\n\r\n');
        if (at >= 0) {
          socket.off('data', onData);
          resolve(at);
        }
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error(`connection closed before an answer: ${buf.toString()}`)));
    });
    const [statusLine = '', ...lines] = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    const rest = buf.subarray(headEnd + 4);
    if (status !== 101) {
      let body = rest.toString();
      await new Promise<void>((resolve) => {
        socket.on('data', (c: Buffer) => (body += c.toString()));
        socket.once('close', () => resolve());
        socket.once('end', () => resolve());
      });
      socket.destroy();
      return { answer: { status, headers, body } };
    }
    const client = new SpdyTestClient(socket, headers['x-stream-protocol-version'] ?? '');
    socket.on('data', (c: Buffer) => client.onData(c));
    if (rest.length) client.onData(rest);
    return { client, answer: { status, headers, body: '' } };
  }

  send(frame: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame);
  }

  /** Opens a stream and waits for its SYN_REPLY, as client-go does before opening the next. */
  async open(headers: Record<string, string>, timeoutMs = 5000): Promise<ClientStream> {
    const id = this.nextId;
    this.nextId += 2;
    const stream = new ClientStream(id, headers.streamtype ?? '', this);
    this.streams.set(id, stream);
    const replied = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SYN_REPLY for stream ${id} (${stream.type})`)), timeoutMs);
      this.replies.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.send(synStreamFrame(id, this.encoder.encode(headers)));
    await replied;
    return stream;
  }

  ping(id: number): void {
    this.send(pingFrame(id));
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (const f of this.reader.push(chunk)) {
      if (f.kind === 'data') {
        const s = this.streams.get(f.streamId);
        if (!s) continue;
        if (f.data.length) {
          s.chunks.push(f.data);
          s.emit('data', f.data);
        }
        if (f.flags & FLAG_FIN && !s.ended) {
          s.ended = true;
          s.emit('end');
        }
        continue;
      }
      const id = streamIdOf(f.payload);
      switch (f.type as FrameType) {
        case FrameType.SynReply:
          this.decoder.decode(f.payload.subarray(4));
          this.replies.get(id)?.();
          this.replies.delete(id);
          break;
        case FrameType.RstStream: {
          const s = this.streams.get(id);
          if (s && !s.wasReset) {
            s.wasReset = true;
            s.emit('reset');
          }
          break;
        }
        case FrameType.GoAway:
          this.goAway = true;
          break;
        default:
          break;
      }
    }
  }
}

export interface ExecOutcome {
  protocol: string;
  stdout: string;
  stderr: string;
  /** What the error stream carried: the JSON status (v4+) or a message. */
  error: string;
}

export interface ExecOptions {
  protocols?: string[];
  stdin?: string | Buffer;
  /** Keep stdin open (no FIN) and hand the stream to this callback instead. */
  onStdin?: (stdin: ClientStream, client: SpdyTestClient) => void;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
  /** Sent on the resize stream as soon as it is open. */
  resize?: { Width: number; Height: number };
}

const DEFAULT_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** Runs an exec or attach URL to its end, as `kubectl exec` over SPDY does. */
export async function spdyExec(url: string, o: ExecOptions = {}): Promise<ExecOutcome> {
  const { client, answer } = await SpdyTestClient.connect(url, o.protocols ?? DEFAULT_PROTOCOLS);
  if (!client) throw new Error(`upgrade refused: ${answer.status} ${answer.body}`);
  try {
    const error = await client.open({ streamtype: 'error' });
    const wantStdin = o.stdin !== undefined || o.onStdin !== undefined;
    const stdin = wantStdin ? await client.open({ streamtype: 'stdin' }) : undefined;
    const stdout = o.stdout !== false ? await client.open({ streamtype: 'stdout' }) : undefined;
    const stderr = o.stderr !== false && !o.tty ? await client.open({ streamtype: 'stderr' }) : undefined;
    const resize = o.tty ? await client.open({ streamtype: 'resize' }) : undefined;
    if (resize && o.resize) resize.write(JSON.stringify(o.resize) + '\n');
    if (stdin && o.onStdin) o.onStdin(stdin, client);
    else if (stdin && o.stdin !== undefined) {
      if (o.stdin.length) stdin.write(o.stdin);
      stdin.end();
    }
    // A server that drops the connection without FINs ends the exec too.
    await Promise.race([Promise.all([error.closed, stdout?.closed, stderr?.closed]), client.closed]);
    return { protocol: client.protocol, stdout: stdout?.text ?? '', stderr: stderr?.text ?? '', error: error.text };
  } finally {
    client.close();
  }
}
