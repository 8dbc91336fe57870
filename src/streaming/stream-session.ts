// One exec or attach session over any transport: the client's stdin and
// resizes go to the target, the target's output to the client, and its end
// (an exit code for exec, the stream's end for attach) back as a status.
// When the client goes away first, the target is released: an exec's process
// tree is killed, an attach only disconnects.
import type { Logger } from '../log.js';

export interface StdioRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface ExecRequest extends StdioRequest {
  containerId: string;
  cmd: string[];
}

export interface AttachRequest extends StdioRequest {
  containerId: string;
}

/** Where a target writes its output; given before it starts, so nothing it prints is lost. */
export interface OutputSinks {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
}

/** A running exec or an attach to a container's stdio. */
export interface StreamTarget {
  write(data: Buffer): void;
  endInput(): void;
  /** Terminal size in character cells; ignored without a tty. */
  resize(width: number, height: number): void;
  /** Exec: the exit code. Attach: undefined when the container's stream ended. All output has been given to the sinks by then. */
  readonly done: Promise<number | undefined>;
  /** The client left first (idempotent). */
  release(): Promise<void>;
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** `size`: the client's terminal size when it sent one before the start (a tty starts with it). */
export type OpenTarget = (sinks: OutputSinks, size?: TerminalSize) => Promise<StreamTarget>;

/** Clients send their terminal size right after the streams are up; a tty session waits this long for it. */
const FIRST_SIZE_WAIT_MS = 300;

/** What a transport (SPDY or WebSocket) offers the session. */
export interface SessionIo {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
  /** Registers the client's stdin bytes and its end. */
  onStdin(data: (chunk: Buffer) => void, end: () => void): void;
  onResize(cb: (width: number, height: number) => void): void;
  /** Whether the client can send sizes at all (protocols before v3 cannot). */
  readonly resizable: boolean;
  /** The client disconnected. */
  onGone(cb: () => void): void;
  /** Output is complete: send the status (exit code, or undefined for a plain end) and close. */
  finish(exitCode: number | undefined): void;
  fail(message: string): void;
}

export async function runSession(open: OpenTarget, req: StdioRequest, io: SessionIo, log: Logger): Promise<void> {
  // The client may send stdin (and its end) or a size before the target exists: hold them until then.
  const held: Buffer[] = [];
  let heldEnd = false;
  let heldSize: [number, number] | undefined;
  let target: StreamTarget | undefined;
  if (req.stdin)
    io.onStdin(
      (chunk) => (target ? target.write(chunk) : held.push(chunk)),
      () => (target ? target.endInput() : (heldEnd = true)),
    );
  let sized: (() => void) | undefined;
  if (req.tty)
    io.onResize((w, h) => {
      if (target) return target.resize(w, h);
      heldSize = [w, h];
      sized?.();
    });
  let gone = false;
  const client: { release?: () => void } = {};
  io.onGone(() => {
    gone = true;
    client.release?.();
  });
  if (req.tty && io.resizable && !heldSize) {
    // Started at its real size, a program that asks at once (stty, a shell prompt) does not see 0x0.
    await new Promise<void>((resolve) => {
      sized = resolve;
      setTimeout(resolve, FIRST_SIZE_WAIT_MS).unref();
    });
  }
  const size = heldSize ? { width: heldSize[0], height: heldSize[1] } : undefined;
  try {
    target = await open(
      {
        stdout: (b) => req.stdout && !gone && io.stdout(b),
        stderr: (b) => req.stderr && !gone && io.stderr(b),
      },
      size,
    );
  } catch (err) {
    log.info({ err }, 'stream target could not start');
    if (!gone) io.fail((err as Error).message);
    return;
  }
  const t = target;
  client.release = () => void t.release().catch((err: unknown) => log.warn({ err }, 'releasing a stream whose client left'));
  if (gone) client.release();
  if (heldSize) t.resize(...heldSize);
  for (const chunk of held.splice(0)) t.write(chunk);
  if (heldEnd || !req.stdin) t.endInput();
  let code: number | undefined;
  try {
    code = await t.done;
  } catch (err) {
    if (!gone) io.fail((err as Error).message);
    return;
  }
  if (!gone) io.finish(code);
  log.debug({ exitCode: code }, 'stream session ended');
}

/**
 * Reads the resize stream: consecutive JSON objects `{"Width":w,"Height":h}`
 * with nothing or whitespace between them, possibly split across reads.
 */
export class ResizeDecoder {
  private text = '';

  constructor(private readonly onSize: (width: number, height: number) => void) {}

  push(chunk: Buffer): void {
    this.text += chunk.toString('utf8');
    if (this.text.length > 64 * 1024) this.text = ''; // garbage, not sizes
    for (;;) {
      const end = this.text.indexOf('}');
      if (end < 0) return;
      const one = this.text.slice(0, end + 1);
      this.text = this.text.slice(end + 1);
      try {
        const v = JSON.parse(one.slice(one.indexOf('{'))) as { Width?: unknown; Height?: unknown };
        const w = Number(v.Width);
        const h = Number(v.Height);
        // 0x0 is what a client without a terminal of its own sends: not a size to apply.
        if (Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0 && w <= 0xffff && h <= 0xffff) this.onSize(w, h);
      } catch {
        // not a size: skip it
      }
    }
  }
}
