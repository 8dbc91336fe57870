// Exec and attach over SPDY/3.1 (the remotecommand protocol): the client opens
// one stream per channel, named by its `streamtype` header; once every
// expected stream is there the session runs.
import type { Logger } from '../log.js';
import { errorStatus, exitStatus, nonZeroExitMessage, statusIsJson } from './exec-status.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';
import { type OpenTarget, ResizeDecoder, runSession, type StdioRequest } from './stream-session.js';

/** A client that has not opened its streams by then is dropped. */
export const STREAM_SETUP_TIMEOUT_MS = 30_000;

export function serveSpdyRemoteCommand(session: SpdySession, req: StdioRequest, protocol: string, open: OpenTarget, log: Logger): void {
  const want = new Set([
    'error',
    ...(req.stdin ? ['stdin'] : []),
    ...(req.stdout ? ['stdout'] : []),
    ...(req.stderr && !req.tty ? ['stderr'] : []),
    // Clients before v3 have no resize stream.
    ...(req.tty && protocol !== 'channel.k8s.io' && protocol !== 'v2.channel.k8s.io' ? ['resize'] : []),
  ]);
  const streams = new Map<string, SpdyStream>();
  const setup = setTimeout(() => {
    log.info({ have: [...streams.keys()], want: [...want] }, 'streams not set up in time; dropping the connection');
    session.goAway();
  }, STREAM_SETUP_TIMEOUT_MS);
  setup.unref();
  session.on('close', () => clearTimeout(setup));
  let started = false;
  let finished = false;
  session.on('stream', (stream) => {
    const type = stream.header('streamtype') ?? '';
    if (!want.has(type) || streams.has(type)) {
      stream.reset();
      return;
    }
    streams.set(type, stream);
    if (started || streams.size < want.size) return;
    started = true;
    clearTimeout(setup);
    const stdout = streams.get('stdout');
    const stderr = streams.get('stderr');
    const error = streams.get('error');
    const stdin = streams.get('stdin');
    const resize = streams.get('resize');
    const finishWith = (status: Record<string, unknown> | undefined, text: string | undefined): void => {
      finished = true;
      stdout?.end();
      stderr?.end();
      if (statusIsJson(protocol) && status) error?.write(Buffer.from(JSON.stringify(status)));
      else if (text) error?.write(Buffer.from(text));
      error?.end();
      for (const s of [stdin, resize]) s?.reset();
      session.goAway();
    };
    void runSession(
      open,
      req,
      {
        stdout: (b) => stdout?.write(b),
        stderr: (b) => stderr?.write(b),
        onStdin: (data, end) => stdin?.consume(data, end),
        onResize: (cb) => {
          const decoder = new ResizeDecoder(cb);
          resize?.consume(
            (b) => decoder.push(b),
            () => {},
          );
        },
        resizable: resize !== undefined,
        onGone: (cb) => session.on('close', () => !finished && cb()),
        finish: (code) => finishWith(exitStatus(code), code ? nonZeroExitMessage(code) : undefined),
        fail: (message) => finishWith(errorStatus(message), message),
      },
      log,
    );
  });
}
