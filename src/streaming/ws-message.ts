// The Kubernetes WebSocket channel framing shared by exec/attach and
// port-forward: a channel byte before each payload, or under the base64
// protocols a text frame with the channel as a digit and the payload base64.
import type { WebSocket } from 'ws';

/** A `ws` message as one Buffer, whatever form the library delivered it in. */
export function messageBuffer(raw: Buffer | ArrayBuffer | Buffer[]): Buffer {
  return Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
}

/** Splits a received message into its channel and payload; undefined for an empty one. */
export function decodeChannelMessage(
  raw: Buffer | ArrayBuffer | Buffer[],
  isBinary: boolean,
  base64: boolean,
): { channel: number; payload: Buffer } | undefined {
  const msg = messageBuffer(raw);
  if (msg.length === 0) return undefined;
  if (base64 && !isBinary) {
    return { channel: Number(String.fromCharCode(msg[0] ?? 0x30)), payload: Buffer.from(msg.subarray(1).toString('latin1'), 'base64') };
  }
  return { channel: msg[0] ?? 0, payload: msg.subarray(1) };
}

/** Sends `data` on `channel` while the socket is open. */
export function channelSender(ws: WebSocket, base64: boolean): (channel: number, data: Buffer) => void {
  return (channel, data) => {
    if (ws.readyState !== ws.OPEN) return;
    if (base64) ws.send(String(channel) + data.toString('base64'));
    else ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
}
