// Dials a TCP port inside a pod's network namespace for port-forward. Node
// cannot enter a namespace, so each connection is `socat` under `nsenter`,
// its stdio carrying the connection's bytes; pods on the host network are
// dialled with socat directly.
import { spawnChild } from '../host/spawn.js';
import { runtimeChildEnv } from '../runtime/child-env.js';

/** One forwarded connection. */
export interface PortConnection {
  write(data: Buffer): void;
  /** The client sent everything: half-close towards the pod. */
  end(): void;
  /** Tears the connection down (idempotent). */
  close(): void;
  /** Resolves when the connection is over: undefined when it ended normally, else why it failed (for the client). */
  readonly closed: Promise<string | undefined>;
}

export type DialPort = (port: number, onData: (data: Buffer) => void) => PortConnection;

/** After one side ends, how long socat waits for the other before closing. */
const HALF_CLOSE_WAIT_S = '30';

/** Dials 127.0.0.1:<port> in the namespace pinned at `netnsPath` (undefined: the host's own). */
export function dialPort(netnsPath: string | undefined, port: number, onData: (data: Buffer) => void): PortConnection {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port ${port} out of range`);
  const socat = ['socat', '-t', HALF_CLOSE_WAIT_S, '-,shut-close', `TCP4:127.0.0.1:${port}`];
  const [file, args] = netnsPath ? ['nsenter', [`--net=${netnsPath}`, '--', ...socat]] : [socat[0]!, socat.slice(1)];
  const child = spawnChild(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: runtimeChildEnv() });
  child.stdin?.on('error', () => {}); // socat may exit before reading everything
  child.stdout?.on('data', onData);
  // The pod's side has ended (shut-close: socat closes its stdout at the TCP EOF): the answer is complete, and the
  // connection is over for the client as well, as kubelet's port-forward treats it. No wait for socat's -t.
  let answered = false;
  child.stdout?.once('end', () => {
    answered = true;
    if (!closing) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2048)));
  let closing = false;
  const closed = new Promise<string | undefined>((resolve) => {
    child.once('error', (err: Error) => resolve(`cannot run ${file}: ${err.message}`));
    child.once('close', (code: number | null) => {
      // socat's error line (E) is a failure even when our kill of a socat on its way out won the race.
      const failed = /\] E /.test(stderr);
      if (code === 0 || closing || (answered && !failed)) return resolve(undefined);
      resolve(`dialing port ${port}: ${socatReason(stderr) || `socat exited with ${code}`}`);
    });
  });
  return {
    write: (data) => {
      if (!closing) child.stdin?.write(data);
    },
    end: () => child.stdin?.end(),
    close: () => {
      if (closing) return;
      closing = true;
      child.kill('SIGKILL');
    },
    closed,
  };
}

/** socat's last error line without its timestamp and pid prefix, e.g. "connect(…): Connection refused". */
function socatReason(stderr: string): string {
  const line = stderr.trim().split('\n').pop() ?? '';
  return line.replace(/^.*?socat\[\d+\] [EWNI] /, '').trim();
}
