// Runs one streamed exec over any transport: the client's stdin goes to the
// process, its stdout/stderr to the client, the exit code back as a status;
// when the client goes away first, the exec'd process tree is killed.
import type { Logger } from '../log.js';
import type { AttachedExec } from '../runtime/runc.js';

export interface ExecRequest {
  containerId: string;
  cmd: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** What a transport (SPDY or WebSocket) offers the runner. */
export interface ExecIo {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
  /** Registers the client's stdin bytes and its end. */
  onStdin(data: (chunk: Buffer) => void, end: () => void): void;
  /** The client disconnected. */
  onGone(cb: () => void): void;
  /** Output ended, then the exit status, then the connection closed. */
  finish(exitCode: number): void;
  fail(message: string): void;
}

export type StartExec = (containerId: string, cmd: string[]) => Promise<AttachedExec>;

export async function runExec(start: StartExec, req: ExecRequest, io: ExecIo, log: Logger): Promise<void> {
  // The client may send stdin (and its end) before the process exists: hold it until then.
  const held: Buffer[] = [];
  let heldEnd = false;
  let sink: { data(chunk: Buffer): void; end(): void } | undefined;
  if (req.stdin)
    io.onStdin(
      (chunk) => (sink ? sink.data(chunk) : held.push(chunk)),
      () => (sink ? sink.end() : (heldEnd = true)),
    );
  let exec: AttachedExec;
  try {
    exec = await start(req.containerId, req.cmd);
  } catch (err) {
    log.info({ err }, 'exec could not start');
    io.fail((err as Error).message);
    return;
  }
  let gone = false;
  io.onGone(() => {
    gone = true;
    void exec.kill().catch((err: unknown) => log.warn({ err }, 'killing an exec whose client left'));
  });
  const { child } = exec;
  child.stdin?.on('error', () => {}); // the process may exit without reading
  if (req.stdin) {
    sink = { data: (chunk) => child.stdin?.write(chunk), end: () => child.stdin?.end() };
    for (const chunk of held.splice(0)) sink.data(chunk);
    if (heldEnd) sink.end();
  } else {
    child.stdin?.end();
  }
  // Both pipes are read to their end before the status goes out.
  const drained = Promise.all(
    [
      [child.stdout, req.stdout ? (b: Buffer) => io.stdout(b) : undefined],
      [child.stderr, req.stderr ? (b: Buffer) => io.stderr(b) : undefined],
    ].map(
      ([stream, sink]) =>
        new Promise<void>((resolve) => {
          const s = stream as NodeJS.ReadableStream | null;
          if (!s) return resolve();
          s.on('data', (b: Buffer) => (sink as ((b: Buffer) => void) | undefined)?.(b));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.on('end', () => resolve());
        }),
    ),
  );
  let code: number;
  try {
    code = await exec.done;
  } catch (err) {
    io.fail((err as Error).message);
    return;
  }
  // A background job of the exec may hold the pipes: do not wait for it forever.
  await Promise.race([drained, new Promise((r) => setTimeout(r, 500).unref())]);
  if (!gone) io.finish(code);
  log.debug({ container: req.containerId, exitCode: code }, 'exec ended');
}
