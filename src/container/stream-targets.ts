// Exec and attach for the streaming server. A plain exec runs `runc exec`
// with pipes; an exec with a terminal runs under the monitor, which owns the
// pty; attach connects to the container's own stdio through the monitor.
// Each becomes a StreamTarget the streaming session drives.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { failedPrecondition, invalidArgument } from '../errors.js';
import type { AttachedExec } from '../runtime/runc.js';
import type { OutputSinks, StreamTarget } from '../streaming/stream-session.js';
import type { ContainerDeps } from './deps.js';
import type { ExecSync } from './exec-sync.js';
import type { ContainerRecord } from './record.js';

/** After a plain exec exits, a background job of it may hold the pipes: output gets this long to end. */
const PIPE_DRAIN_MS = 500;

export interface ExecStreamRequest {
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  /** The terminal's size at the start. */
  size?: { width: number; height: number };
}

/** Where tty execs keep their monitor's files while they run. */
export const execsRoot = (stateDir: string): string => join(stateDir, 'execs');

export class StreamTargets {
  constructor(
    private readonly deps: Pick<ContainerDeps, 'runtimes' | 'monitor' | 'stateDir' | 'socketDir' | 'log'>,
    private readonly execs: ExecSync,
  ) {}

  async exec(record: ContainerRecord, req: ExecStreamRequest, sinks: OutputSinks): Promise<StreamTarget> {
    requireRunning(record);
    if (req.cmd.length === 0) throw invalidArgument('cmd is required');
    const processSpec = {
      ...(await this.execs.processSpecOf(record)),
      args: req.cmd,
      terminal: req.tty,
      ...(req.tty && req.size ? { consoleSize: { width: req.size.width, height: req.size.height } } : {}),
    };
    if (!req.tty) return pipedTarget(await this.deps.runtimes.get(record.runtimeHandler).execAttached(record.id, processSpec), sinks);
    const runtime = this.deps.runtimes.get(record.runtimeHandler);
    const exec = await this.deps.monitor.exec({
      runtimePath: runtime.binary,
      runtimeRoot: runtime.root,
      containerId: record.id,
      processSpec,
      execDir: join(execsRoot(this.deps.stateDir), randomBytes(8).toString('hex')),
      socketDir: this.deps.socketDir,
      stdin: req.stdin,
      sink: (_stream, data) => sinks.stdout(data), // a terminal has one output stream
      log: this.deps.log,
    });
    return {
      write: (data) => exec.write(data),
      endInput: () => exec.endInput(),
      resize: (w, h) => void exec.resize(w, h).catch((err: unknown) => this.deps.log.debug({ err }, 'exec resize')),
      done: exec.done,
      release: () => exec.kill(),
    };
  }

  async attach(
    record: ContainerRecord,
    req: { stdin: boolean; size?: { width: number; height: number } },
    sinks: OutputSinks,
  ): Promise<StreamTarget> {
    requireRunning(record);
    const resize = (w: number, h: number): void => {
      if (record.config.tty)
        void this.deps.monitor.resize(record.bundle, w, h).catch((err: unknown) => this.deps.log.debug({ err }, 'attach resize'));
    };
    if (req.size) resize(req.size.width, req.size.height);
    let lastOutput = Date.now();
    const conn = await this.deps.monitor.attach(record.id, this.deps.socketDir, (stream, data) => {
      lastOutput = Date.now();
      sinks[stream](data);
    });
    // Without stdin in its config the container has no stdin to write to.
    const input = req.stdin && record.config.stdin;
    return {
      write: (data) => input && conn.write(data),
      endInput: () => {
        if (!input) return;
        // stdin_once: conmon closes the container's stdin, and the attach lasts until the output ends.
        if (record.config.stdinOnce) return conn.endInput();
        // Otherwise the client's stdin ending is its detach (as kubectl and crictl expect): the answer to
        // its last input gets a moment to arrive, then the attach ends with the container still running.
        void detachWhenQuiet(() => lastOutput).then(() => conn.close());
      },
      resize,
      done: conn.ended.then(() => undefined),
      release: async () => conn.close(),
    };
  }
}

/** After the client's stdin ends, output must be quiet this long (bounded by DETACH_MAX_MS) before an attach ends. */
const DETACH_QUIET_MS = 250;
const DETACH_MAX_MS = 2000;

async function detachWhenQuiet(lastOutput: () => number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const now = Date.now();
    const quietFor = now - Math.max(lastOutput(), start);
    if (quietFor >= DETACH_QUIET_MS || now - start >= DETACH_MAX_MS) return;
    await new Promise((r) => setTimeout(r, Math.min(DETACH_QUIET_MS - quietFor, DETACH_MAX_MS - (now - start))));
  }
}

function requireRunning(record: ContainerRecord): void {
  if (record.status.state !== 'running') throw failedPrecondition(`container ${record.id} is not running`);
}

/** `runc exec` with pipes: both output pipes are read to their end before the exit code counts. */
function pipedTarget(exec: AttachedExec, sinks: OutputSinks): StreamTarget {
  const { child } = exec;
  child.stdin?.on('error', () => {}); // the process may exit without reading
  const drained = Promise.all(
    (
      [
        [child.stdout, (b: Buffer) => sinks.stdout(b)],
        [child.stderr, (b: Buffer) => sinks.stderr(b)],
      ] as const
    ).map(
      ([stream, sink]) =>
        new Promise<void>((resolve) => {
          const s = stream;
          if (!s) return resolve();
          s.on('data', (b: Buffer) => sink(b));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.on('end', () => resolve());
        }),
    ),
  );
  const done = exec.done.then(async (code) => {
    await Promise.race([drained, new Promise((r) => setTimeout(r, PIPE_DRAIN_MS).unref())]);
    return code;
  });
  return {
    write: (data) => child.stdin?.write(data),
    endInput: () => child.stdin?.end(),
    resize: () => {},
    done,
    release: () => exec.kill(),
  };
}
