// A connection to conmon's attach socket. The socket is SOCK_SEQPACKET,
// which Node cannot open, so native/seqpacket-relay.c holds it and frames
// each packet on its stdout (4-byte length, then the packet: conmon's pipe-id
// byte and the bytes). Input goes to the relay's stdin; its end shuts the
// socket's write side. The relay is the only process started: closing the
// connection kills it, never the container.
import { SkiffError } from '../errors.js';
import { nativeHelper } from '../host/native-helper.js';
import { type Child, spawnChild } from '../host/spawn.js';

/** conmon's pipe id of stderr on the attach socket (everything else is stdout). */
const PIPE_STDERR = 3;
const CONNECT_TIMEOUT_MS = 10_000;

export type OutputSink = (stream: 'stdout' | 'stderr', data: Buffer) => void;

export interface AttachConnection {
  write(data: Buffer): void;
  /** Shuts the write side: conmon closes the container's stdin unless told to leave it open. */
  endInput(): void;
  /** Disconnects (idempotent). */
  close(): void;
  /** Resolves when the socket has ended: conmon closed it (the process exited) or close() was called. */
  readonly ended: Promise<void>;
}

/** The built relay; SKIFF_SEQPACKET_RELAY overrides it. Undefined when it is not built. */
export function seqpacketRelayPath(): string | undefined {
  return nativeHelper('skiff-seqpacket-relay', 'SKIFF_SEQPACKET_RELAY');
}

/** Connects to the attach socket at `socketPath`; output packets go to `sink` as they arrive (always drained). */
export async function connectAttachSocket(socketPath: string, sink: OutputSink): Promise<AttachConnection> {
  const relay = seqpacketRelayPath();
  if (!relay) {
    throw new SkiffError('FailedPrecondition', 'attaching needs dist/native/skiff-seqpacket-relay, which was not built (no C compiler)');
  }
  const child = spawnChild(relay, [socketPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => {}); // the relay exits when the socket ends; late input is dropped
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4096)));
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(255));
    child.once('exit', (code: number | null) => resolve(code ?? 255));
  });
  const connected = new Promise<void>((resolve, reject) => {
    parseFrames(child, resolve, sink);
    void exited.then((code) =>
      reject(new SkiffError('FailedPrecondition', `cannot attach to ${socketPath}: ${stderr.trim() || `relay exited with ${code}`}`)),
    );
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connected,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SkiffError('DeadlineExceeded', `connecting to ${socketPath} took over ${CONNECT_TIMEOUT_MS} ms`)),
          CONNECT_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  let closed = false;
  return {
    write: (data) => {
      if (!closed && data.length) child.stdin?.write(data);
    },
    endInput: () => {
      if (!closed) child.stdin?.end();
    },
    close: () => {
      if (closed) return;
      closed = true;
      child.kill('SIGKILL');
    },
    ended: exited.then(() => undefined),
  };
}

function parseFrames(child: Child, onConnected: () => void, sink: OutputSink): void {
  let buf: Buffer = Buffer.alloc(0);
  child.stdout?.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (buf.length < 4 + len) break;
      const packet = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      if (len === 0) {
        onConnected();
        continue;
      }
      sink(packet[0] === PIPE_STDERR ? 'stderr' : 'stdout', packet.subarray(1));
    }
  });
}
