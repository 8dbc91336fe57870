// Port-forward over SPDY/3.1 (portforward.k8s.io): the client opens a pair of
// streams per connection, `error` then `data`, both naming the `port`; the
// pair is matched by `requestid` (older clients send none: then the data
// stream's id is the error stream's plus two). Each pair is one TCP
// connection in the pod; a dial that fails is reported on the error stream.
import type { Logger } from '../log.js';
import type { DialPort, PortConnection } from '../network/port-dialer.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';
import { STREAM_SETUP_TIMEOUT_MS } from './spdy-remotecommand.js';

interface Pair {
  error?: SpdyStream;
  data?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function serveSpdyPortForward(session: SpdySession, podId: string, dial: DialPort, log: Logger): void {
  const pairs = new Map<string, Pair>();
  const open = new Set<PortConnection>();
  session.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    for (const c of open) c.close();
  });
  session.on('stream', (stream) => {
    const type = stream.header('streamtype');
    if (type !== 'error' && type !== 'data') {
      stream.reset();
      return;
    }
    const key = stream.header('requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(key);
    if (!pair) {
      const timer = setTimeout(() => {
        log.info({ requestId: key }, 'port-forward stream pair not completed in time');
        pairs.delete(key);
        pair?.error?.reset();
        pair?.data?.reset();
      }, STREAM_SETUP_TIMEOUT_MS);
      timer.unref();
      pair = { timer };
      pairs.set(key, pair);
    }
    if (pair[type]) {
      stream.reset();
      return;
    }
    pair[type] = stream;
    const { error, data } = pair;
    if (!error || !data) return;
    clearTimeout(pair.timer);
    pairs.delete(key);
    // The client sends nothing on the error stream; drain it anyway.
    error.consume(
      () => {},
      () => {},
    );
    const portText = data.header('port') ?? error.header('port') ?? '';
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      error.end(Buffer.from(`invalid port ${JSON.stringify(portText)}`));
      data.end();
      return;
    }
    let conn: PortConnection;
    try {
      conn = dial(port, (b) => data.write(b));
    } catch (err) {
      error.end(Buffer.from(`error forwarding port ${port} to pod ${podId}: ${(err as Error).message}`));
      data.end();
      return;
    }
    open.add(conn);
    data.consume(
      (b) => conn.write(b),
      () => conn.end(),
    );
    data.on('reset', () => conn.close());
    void conn.closed.then((failure) => {
      open.delete(conn);
      if (session.isClosed) return;
      if (failure) {
        log.info({ port, failure }, 'port-forward connection failed');
        error.write(Buffer.from(`error forwarding port ${port} to pod ${podId}: ${failure}`));
      }
      data.end();
      error.end();
    });
  });
}
