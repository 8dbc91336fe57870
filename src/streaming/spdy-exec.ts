// Exec over SPDY/3.1: the client opens one stream per channel, named by its
// `streamtype` header; once every expected stream is there the process runs.
import type { Logger } from '../log.js';
import { type ExecRequest, runExec, type StartExec } from './exec-runner.js';
import { errorStatus, execStatus, statusIsJson } from './exec-status.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';

/** A client that has not opened its streams by then is dropped. */
export const STREAM_SETUP_TIMEOUT_MS = 30_000;

export function serveSpdyExec(session: SpdySession, req: ExecRequest, protocol: string, start: StartExec, log: Logger): void {
  const want = new Set([
    'error',
    ...(req.stdin ? ['stdin'] : []),
    ...(req.stdout ? ['stdout'] : []),
    ...(req.stderr && !req.tty ? ['stderr'] : []),
    ...(req.tty ? ['resize'] : []),
  ]);
  const streams = new Map<string, SpdyStream>();
  const setup = setTimeout(() => {
    log.info({ have: [...streams.keys()], want: [...want] }, 'exec streams not set up in time; dropping the connection');
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
    const finishWith = (status: Record<string, unknown> | undefined, text: string | undefined): void => {
      stdout?.end();
      stderr?.end();
      if (statusIsJson(protocol) && status) error?.write(Buffer.from(JSON.stringify(status)));
      else if (text) error?.write(Buffer.from(text));
      error?.end();
      for (const s of [stdin, streams.get('resize')]) s?.reset();
      session.goAway();
    };
    void runExec(
      start,
      req,
      {
        stdout: (b) => stdout?.write(b),
        stderr: (b) => stderr?.write(b),
        onStdin: (data, end) => stdin?.consume(data, end),
        onGone: (cb) => session.on('close', () => !finished && cb()),
        finish: (code) => {
          finished = true;
          finishWith(execStatus(code), code === 0 ? undefined : `command terminated with non-zero exit code: exit status ${code}`);
        },
        fail: (message) => {
          finished = true;
          finishWith(errorStatus(message), message);
        },
      },
      log,
    );
  });
}
