// A WebSocket streaming client for tests, as client-go's WebSocket executor
// behaves: one channel byte before every message (0 stdin, 1 stdout,
// 2 stderr, 3 status, 4 resize; v5 closes stdin with 255 0), or text frames
// with a digit and base64 payload under base64.channel.k8s.io.
import WebSocket from 'ws';

import type { ExecOutcome } from './spdy-client.js';

export interface WsExecOptions {
  protocol?: string;
  stdin?: string | Buffer;
  /** Keep stdin open and hand the socket to this callback instead. */
  onOpen?: (send: (channel: number, data: Buffer | string) => void, ws: WebSocket) => void;
  resize?: { Width: number; Height: number };
}

export interface WsRefusal {
  status: number;
}

/** Runs an exec or attach URL to its end over WebSocket. */
export async function wsExec(url: string, o: WsExecOptions = {}): Promise<ExecOutcome & { closeCode: number }> {
  const protocol = o.protocol ?? 'v5.channel.k8s.io';
  const ws = new WebSocket(url.replace(/^http/, 'ws'), [protocol]);
  const base64 = protocol === 'base64.channel.k8s.io';
  const out: Record<number, Buffer[]> = { 1: [], 2: [], 3: [] };
  const send = (channel: number, data: Buffer | string): void => {
    const b = Buffer.from(data);
    if (base64) ws.send(String(channel) + b.toString('base64'));
    else ws.send(Buffer.concat([Buffer.from([channel]), b]));
  };
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    let channel: number;
    let payload: Buffer;
    if (base64 && !isBinary) {
      channel = Number(raw.toString('latin1', 0, 1));
      payload = Buffer.from(raw.subarray(1).toString('latin1'), 'base64');
    } else {
      channel = raw[0] ?? -1;
      payload = raw.subarray(1);
    }
    out[channel]?.push(payload);
  });
  const closed = new Promise<number>((resolve, reject) => {
    ws.once('close', (code) => resolve(code));
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    closed.catch(reject);
  });
  if (o.resize) send(4, JSON.stringify(o.resize));
  if (o.onOpen) o.onOpen(send, ws);
  else if (o.stdin !== undefined) {
    if (o.stdin.length) send(0, o.stdin);
    if (protocol === 'v5.channel.k8s.io') ws.send(Buffer.from([255, 0]));
  }
  const closeCode = await closed;
  const text = (c: number): string => Buffer.concat(out[c] ?? []).toString();
  return { protocol: ws.protocol, stdout: text(1), stderr: text(2), error: text(3), closeCode };
}
