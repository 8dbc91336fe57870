// A WebSocket client for the SPDY-in-WebSocket port-forward tunnel
// (subprotocol `SPDY/3.1+portforward.k8s.io`, what kubectl 1.31+ and
// `crictl port-forward --transport websocket` send). The `ws` client refuses
// a subprotocol with '/', so the handshake is written here and `ws` then
// frames the upgraded socket as a client (masked frames).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';

import WebSocket, { createWebSocketStream } from 'ws';

export const SPDY_TUNNEL = 'SPDY/3.1+portforward.k8s.io';

/** Upgrades to the tunnel; the duplex carries SPDY frames in binary WebSocket messages. */
export async function openSpdyTunnel(url: string): Promise<Duplex> {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    [
      `GET ${u.pathname} HTTP/1.1`,
      `Host: ${u.host}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      `Sec-WebSocket-Protocol: ${SPDY_TUNNEL}`,
      '',
      '',
    ].join('\r\n'),
  );
  let buf = Buffer.alloc(0);
  const headEnd = await new Promise<number>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const at = buf.indexOf('\r\n\r\n');
      if (at < 0) return;
      socket.off('data', onData);
      resolve(at);
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before the upgrade answer: ${buf.toString()}`)));
  });
  socket.pause();
  const head = buf.subarray(0, headEnd).toString('latin1');
  if (!/^HTTP\/1\.1 101 /.test(head)) throw new Error(`tunnel upgrade refused: ${head.split('\r\n')[0]}`);
  const protocol = /\r\nsec-websocket-protocol:\s*([^\r]+)/i.exec(head)?.[1]?.trim();
  if (protocol !== SPDY_TUNNEL) throw new Error(`server chose subprotocol ${protocol ?? '(none)'}`);
  const ws = new WebSocket(null as unknown as string, undefined, { autoPong: true });
  // A client masks its frames: `ws` does when it is not the server side.
  (ws as unknown as { _isServer: boolean })._isServer = false;
  (ws as unknown as { setSocket(s: net.Socket, head: Buffer, o: object): void }).setSocket(socket, buf.subarray(headEnd + 4), {
    maxPayload: 0,
    skipUTF8Validation: false,
  });
  socket.resume();
  return createWebSocketStream(ws);
}
