// Port-forward over WebSocket (the channel protocol, binary or base64): one
// connection per requested port, on channels 2i (data) and 2i+1 (error);
// the first message on each channel is the port as a little-endian uint16.
// The socket closes once every connection has ended.
import type { WebSocket } from 'ws';

import type { Logger } from '../log.js';
import type { DialPort, PortConnection } from '../network/port-dialer.js';
import { channelSender, decodeChannelMessage } from './ws-message.js';

/** Binary with no subprotocol, v4 binary and v4 base64. */
export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'] as const;

export function serveWsPortForward(ws: WebSocket, podId: string, ports: readonly number[], dial: DialPort, log: Logger): void {
  const base64 = ws.protocol === 'v4.base64.channel.k8s.io';
  const send = channelSender(ws, base64);
  const conns: (PortConnection | undefined)[] = [];
  let live = 0;
  ports.forEach((port, i) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port);
    send(2 * i, prefix);
    send(2 * i + 1, prefix);
    let conn: PortConnection;
    try {
      conn = dial(port, (b) => send(2 * i, b));
    } catch (err) {
      send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${podId}: ${(err as Error).message}`));
      return;
    }
    conns[i] = conn;
    live++;
    void conn.closed.then((failure) => {
      conns[i] = undefined;
      if (failure) {
        log.info({ port, failure }, 'port-forward connection failed');
        send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${podId}: ${failure}`));
      }
      if (--live === 0) ws.close(1000);
    });
  });
  if (live === 0) ws.close(1000);
  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const decoded = decodeChannelMessage(raw, isBinary, base64);
    if (!decoded) return;
    const { channel, payload } = decoded;
    if (channel % 2 === 0 && payload.length) conns[channel / 2]?.write(payload);
  });
  ws.on('close', () => {
    for (const c of conns) c?.close();
  });
}
