// A streamed exec run by conmon (`--exec --exec-attach`), used when the exec
// needs a terminal: runc can only hand a pty over a console socket as a file
// descriptor, which Node cannot receive, while conmon keeps the pty and
// serves it on its attach socket. conmon talks over three inherited pipes:
// the start pipe (fd 4) we write to, the attach pipe (fd 5) that says when
// its socket listens, and the sync pipe (fd 3) that reports the exec's pid
// and then its exit code.
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

import { SkiffError } from '../errors.js';
import type { Logger } from '../log.js';
import { type AttachConnection, connectAttachSocket, type OutputSink } from './attach-socket.js';
import { runtimeChildEnv } from './child-env.js';
import { attachSocketPath } from './conmon.js';
import { resizeTerminal } from './conmon-ctl.js';
import { readPidFile } from './pid-file.js';
import { killProcessTree, processStartedAt, waitGone } from './process-tree.js';

export interface ConmonExecOptions {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
  containerId: string;
  /** The OCI process to run (terminal as wanted). */
  processSpec: Record<string, unknown>;
  /** A directory of this exec's own (removed when it ends); conmon's bundle dir for it. */
  execDir: string;
  /** Where conmon links attach sockets (short paths). */
  socketDir: string;
  stdin: boolean;
  sink: OutputSink;
  log?: Logger;
}

export interface MonitoredExec {
  write(data: Buffer): void;
  endInput(): void;
  resize(width: number, height: number): Promise<void>;
  /** The exit code, once the process has exited and its output has been delivered. */
  readonly done: Promise<number>;
  /** Kills the exec'd process tree (idempotent). */
  kill(): Promise<void>;
}

const SETUP_TIMEOUT_MS = 30_000;
/** After the exit code, output still in flight gets this long to arrive. */
const DRAIN_MS = 1000;

/** The monitor's id for an exec (its attach socket's name): from the exec dir, so a clean-up after a crash finds the socket. */
const execIdOf = (execDir: string): string => `exec-${basename(execDir)}`;

export async function execUnderConmon(o: ConmonExecOptions): Promise<MonitoredExec> {
  const execId = execIdOf(o.execDir);
  const specFile = join(o.execDir, 'process.json');
  const exitDir = join(o.execDir, 'exits');
  const pidFile = join(o.execDir, 'pid');
  await mkdir(exitDir, { recursive: true });
  await mkdir(o.socketDir, { recursive: true });
  await writeFile(specFile, JSON.stringify(o.processSpec), { mode: 0o600 });
  const cleanup = (): Promise<void> =>
    Promise.all([rm(o.execDir, { recursive: true, force: true }), rm(join(o.socketDir, execId), { force: true })])
      .then(() => undefined)
      .catch((err: unknown) => o.log?.warn({ err, execDir: o.execDir }, 'removing an exec dir'));

  const args = [
    '--api-version',
    '1',
    '-c',
    o.containerId,
    '-u',
    execId,
    '-n',
    execId,
    '-r',
    o.runtimePath,
    '--runtime-arg',
    `--root=${o.runtimeRoot}`,
    '-b',
    o.execDir,
    '-p',
    pidFile,
    '-P',
    join(o.execDir, 'conmon.pid'),
    '-l',
    'none',
    '--exit-dir',
    exitDir,
    '--socket-dir-path',
    o.socketDir,
    '--syslog=false',
    '--exec',
    '--exec-process-spec',
    specFile,
    '--exec-attach',
    ...(o.processSpec['terminal'] === true ? ['-t'] : []),
    ...(o.stdin ? ['-i'] : []),
  ];
  // Node's own spawn: the shared spawner relays fds 0-3 only, and conmon needs 3-5.
  const child = spawn(o.conmonPath, args, {
    cwd: o.execDir,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: runtimeChildEnv({ _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' }),
  });
  const stderr = collect(child.stderr);
  const pipes = child.stdio as unknown as (Readable | Writable | null)[];
  const sync = new MessageReader(pipes[3] as Readable);
  const attach = new MessageReader(pipes[5] as Readable);
  const start = pipes[4] as Writable;
  start.on('error', () => {});
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new SkiffError('FailedPrecondition', `cannot run ${o.conmonPath}: ${err.message}`)));
  });
  const failed = (what: string, m: Message | undefined): SkiffError =>
    new SkiffError(
      'FailedPrecondition',
      `exec in ${o.containerId}: ${m?.message ?? (m ? `conmon reported ${m.data}` : `conmon ended before ${what}${stderr().trim() ? `: ${stderr().trim()}` : ''}`)}`,
    );

  let conn: AttachConnection | undefined;
  try {
    await spawned;
    start.write('0');
    const ready = await attach.next(SETUP_TIMEOUT_MS);
    if (!ready || ready.data < 0) throw failed('its attach socket was ready', ready);
    conn = await connectAttachSocket(attachSocketPath(o.socketDir, execId), o.sink);
    start.write('0');
    const started = await sync.next(SETUP_TIMEOUT_MS);
    if (!started || started.data <= 0) throw failed('the exec started', started);
  } catch (err) {
    conn?.close();
    const conmonPid = await readPidFile(join(o.execDir, 'conmon.pid'));
    if (conmonPid !== undefined) signalQuietly(conmonPid);
    child.kill('SIGKILL');
    await cleanup();
    throw err;
  } finally {
    child.unref();
  }
  const c = conn;
  const done = (async () => {
    const exit = await sync.next(undefined);
    // conmon writes the exit code after the process ends; its last output may still be in the relay.
    await Promise.race([c.ended, new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
    c.close();
    for (const s of pipes.slice(2)) s?.destroy();
    await cleanup();
    if (!exit) throw new SkiffError('Internal', `conmon of an exec in ${o.containerId} ended without an exit code`);
    return exit.data;
  })();
  let killing: Promise<void> | undefined;
  return {
    write: (data) => c.write(data),
    endInput: () => c.endInput(),
    resize: (width, height) => resizeTerminal(o.execDir, width, height),
    done,
    kill: () =>
      (killing ??= (async () => {
        const pid = await readPidFile(pidFile);
        if (pid !== undefined) await killProcessTree(pid);
        const settled = await Promise.race([
          done.then(
            () => true,
            () => true,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref()),
        ]);
        if (!settled) {
          const conmonPid = await readPidFile(join(o.execDir, 'conmon.pid'));
          if (conmonPid !== undefined) {
            signalQuietly(conmonPid);
            await waitGone(conmonPid, 1000);
          }
        }
      })()),
  };
}

interface Message {
  data: number;
  message?: string;
}

/** conmon's pipe messages: one JSON object per line, `{"data": n}` with an optional "message". */
class MessageReader {
  private text = '';
  private readonly queue: Message[] = [];
  private waiters: ((m: Message | undefined) => void)[] = [];
  private ended = false;

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('error', () => this.end());
    stream.on('end', () => this.end());
    stream.on('close', () => this.end());
    stream.on('data', (s: string) => {
      this.text += s;
      let nl: number;
      while ((nl = this.text.indexOf('\n')) >= 0) {
        const line = this.text.slice(0, nl).trim();
        this.text = this.text.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          const obj = JSON.parse(line) as { data?: unknown; message?: unknown };
          if (typeof obj.data !== 'number') continue;
          this.push({ data: obj.data, ...(typeof obj.message === 'string' ? { message: obj.message } : {}) });
        } catch {
          // not a message
        }
      }
    });
  }

  /** The next message; undefined when the pipe ends first (or at the timeout). */
  next(timeoutMs: number | undefined): Promise<Message | undefined> {
    const m = this.queue.shift();
    if (m || this.ended) return Promise.resolve(m);
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle(undefined), timeoutMs);
      const settle = (v: Message | undefined): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== settle);
        resolve(v);
      };
      this.waiters.push(settle);
    });
  }

  private push(m: Message): void {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  private end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

function collect(stream: Readable | null): () => string {
  let text = '';
  stream?.on('data', (b: Buffer) => (text = (text + b.toString()).slice(-4096)));
  stream?.on('error', () => {});
  return () => text;
}

function signalQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A pid file names its process only if that process started before the file was last written (plus slack). */
const PID_FILE_SLACK_MS = 2000;

/**
 * Ends the tty execs a previous Skiff left behind (it died while they ran, so
 * nobody holds their streams): each exec dir's process tree and conmon are
 * killed, when the pids still name them, and the dir and socket removed.
 * Returns how many dirs were cleaned up.
 */
export async function reapStaleExecs(execsRoot: string, socketDir: string, log: Logger): Promise<number> {
  let names: string[];
  try {
    names = await readdir(execsRoot);
  } catch {
    return 0;
  }
  for (const name of names) {
    const dir = join(execsRoot, name);
    const live = async (file: string): Promise<number | undefined> => {
      const pid = await readPidFile(join(dir, file));
      if (pid === undefined) return undefined;
      const [started, written] = await Promise.all([processStartedAt(pid), stat(join(dir, file)).catch(() => undefined)]);
      if (!started || !written || started.getTime() > written.mtimeMs + PID_FILE_SLACK_MS) return undefined; // reused pid
      return pid;
    };
    const pid = await live('pid');
    if (pid !== undefined) await killProcessTree(pid);
    const conmonPid = await live('conmon.pid');
    if (conmonPid !== undefined) {
      signalQuietly(conmonPid);
      await waitGone(conmonPid, 1000);
    }
    log.info({ execDir: dir, pid, conmonPid }, 'cleaned up an exec left by an earlier run');
    await Promise.all([rm(dir, { recursive: true, force: true }), rm(join(socketDir, execIdOf(dir)), { force: true })]);
  }
  return names.length;
}
