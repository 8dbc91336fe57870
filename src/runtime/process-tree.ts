// Finding and killing a host process together with everything it started.
// Used when an exec times out: the exec'd process is a session leader (runc
// calls setsid for it), its children may be anywhere below it, and a child
// that was orphaned inside the container is reparented to the container's
// init, so the parent chain alone is not enough: we also match the process
// group and session the exec'd process leads.
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** One letter: R, S, D, Z (zombie), T (stopped)… */
  state: string;
}

/** Parses /proc/<pid>/stat; undefined when the process is gone. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // ENOENT or ESRCH: exited between listing and reading
  }
  return parseProcStat(text);
}

/** The command name (field 2) may hold spaces and parentheses: parse after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number.parseInt(text, 10);
  const rest = text.slice(close + 2).split(' ');
  const [state, ppid, pgrp, session] = [rest[0], rest[1], rest[2], rest[3]];
  if (state === undefined || ppid === undefined || pgrp === undefined || session === undefined) return undefined;
  return { pid, state, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session) };
}

export async function listProcesses(): Promise<ProcStat[]> {
  const names = await readdir('/proc');
  const stats = await Promise.all(names.filter((n) => /^\d+$/.test(n)).map((n) => readProcStat(Number(n))));
  return stats.filter((s): s is ProcStat => s !== undefined);
}

/**
 * Pids of `root` and of every process that descends from it, or that is in the
 * process group or session it leads.
 */
export function selectTree(root: number, procs: readonly ProcStat[]): Set<number> {
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const out = new Set<number>();
  const queue: number[] = [];
  const add = (pid: number): void => {
    if (!out.has(pid)) {
      out.add(pid);
      queue.push(pid);
    }
  };
  if (procs.some((p) => p.pid === root)) add(root);
  for (const p of procs) if (p.pgrp === root || p.session === root) add(p.pid);
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) add(child);
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // ESRCH: already gone
  }
}

/**
 * SIGKILLs `root` and its tree (see selectTree). Processes are stopped first
 * and the tree is re-read until it no longer grows, so a process that forks
 * while we walk cannot leave a child behind. Returns the pids signalled.
 */
export async function killProcessTree(root: number): Promise<number[]> {
  const stopped = new Set<number>();
  for (let round = 0; round < 20; round++) {
    const tree = selectTree(root, await listProcesses());
    let grew = false;
    for (const pid of tree) {
      if (stopped.has(pid)) continue;
      stopped.add(pid);
      grew = true;
      signal(pid, 'SIGSTOP');
    }
    if (!grew) break;
  }
  for (const pid of stopped) signal(pid, 'SIGKILL');
  return [...stopped];
}

/** True while the process exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const st = await readProcStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** Polls until the process is gone (or a zombie); false on timeout. */
export async function waitGone(pid: number, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** argv of a process from /proc/<pid>/cmdline; undefined when it is gone. */
export async function readCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const parts = raw.split('\0');
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    return parts;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc/<pid>/stat's start time (USER_HZ, 100 on every Linux ABI Skiff runs on). */
const USER_HZ = 100;

/** When the process started (wall clock, 10 ms resolution); undefined when it is gone. */
export async function processStartedAt(pid: number): Promise<Date | undefined> {
  let stat: string;
  let procStat: string;
  try {
    [stat, procStat] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile('/proc/stat', 'utf8')]);
  } catch {
    return undefined;
  }
  // Field 22 (starttime) is the 20th after the command name's ')'.
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const btime = Number(/^btime (\d+)$/m.exec(procStat)?.[1]);
  if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return undefined;
  return new Date(btime * 1000 + (ticks * 1000) / USER_HZ);
}
