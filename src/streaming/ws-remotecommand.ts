// Exec and attach over WebSocket (the Kubernetes channel protocols): every
// message starts with its channel byte (0 stdin, 1 stdout, 2 stderr, 3 error,
// 4 resize; 255 closes a channel in v5); base64.channel.k8s.io sends text,
// the channel as a digit and the payload base64-encoded.
import type { WebSocket } from 'ws';

import type { Logger } from '../log.js';
import { errorStatus, exitStatus, nonZeroExitMessage } from './exec-status.js';
import { type OpenTarget, ResizeDecoder, runSession, type StdioRequest } from './stream-session.js';
import { channelSender, decodeChannelMessage } from './ws-message.js';

export const WS_REMOTECOMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

export function serveWsRemoteCommand(ws: WebSocket, req: StdioRequest, open: OpenTarget, log: Logger): void {
  const protocol = ws.protocol;
  const base64 = protocol === 'base64.channel.k8s.io';
  const json = protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io';
  const send = channelSender(ws, base64);
  let onData: ((b: Buffer) => void) | undefined;
  let onEnd: (() => void) | undefined;
  let resize: ResizeDecoder | undefined;
  let finished = false;
  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const decoded = decodeChannelMessage(raw, isBinary, base64);
    if (!decoded) return;
    const { channel, payload } = decoded;
    if (channel === STDIN) onData?.(payload);
    else if (channel === RESIZE) resize?.push(payload);
    else if (channel === CLOSE && payload[0] === STDIN) onEnd?.();
  });
  const end = (status: Record<string, unknown>, text: string | undefined): void => {
    finished = true;
    if (json) send(ERROR, Buffer.from(JSON.stringify(status)));
    else if (text) send(ERROR, Buffer.from(text));
    ws.close(1000);
  };
  void runSession(
    open,
    req,
    {
      stdout: (b) => send(STDOUT, b),
      stderr: (b) => send(STDERR, b),
      onStdin: (data, endStdin) => {
        onData = data;
        onEnd = endStdin;
      },
      onResize: (cb) => (resize = new ResizeDecoder(cb)),
      resizable: protocol !== 'channel.k8s.io' && protocol !== 'base64.channel.k8s.io',
      onGone: (cb) => ws.on('close', () => !finished && cb()),
      finish: (code) => end(exitStatus(code), code ? nonZeroExitMessage(code) : undefined),
      fail: (message) => end(errorStatus(message), message),
    },
    log,
  );
}
