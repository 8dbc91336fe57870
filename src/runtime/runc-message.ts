// Turns what runc prints on failure into one readable message and an error kind.
// With `--log-format json` each stderr line is {"level","msg","time"}; runc run
// by conmon uses the text format (`time="…" level=error msg="…"`), so both are read.
import type { ErrorKind } from '../errors.js';

const LOGFMT_MSG = /(?:^|\s)msg="((?:[^"\\]|\\.)*)"/;
const LOGFMT_LEVEL = /(?:^|\s)level=(\w+)/;

/** The error (or, failing that, any) messages in runc's output, joined with "; ". */
export function runcMessage(output: string): string {
  const errors: string[] = [];
  const others: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const parsed = parseLine(line);
    (parsed.level === 'error' || parsed.level === 'fatal' || parsed.level === 'panic' ? errors : others).push(parsed.msg);
  }
  const picked = errors.length > 0 ? errors : others;
  return picked.join('; ');
}

function parseLine(line: string): { level?: string; msg: string } {
  if (line.startsWith('{')) {
    try {
      const obj = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (typeof obj.msg === 'string') {
        return { level: typeof obj.level === 'string' ? obj.level : undefined, msg: obj.msg };
      }
    } catch {
      // not JSON after all: fall through to the text forms
    }
  }
  const m = LOGFMT_MSG.exec(line);
  if (m) {
    let msg = m[1]!;
    try {
      msg = JSON.parse(`"${msg}"`) as string; // logfmt quoting is Go's strconv.Quote
    } catch {
      // keep the raw text
    }
    return { level: LOGFMT_LEVEL.exec(line)?.[1], msg };
  }
  return { msg: line };
}

/** Maps runc's wording to a domain error kind; anything unrecognised is Internal. */
export function classifyRuncMessage(msg: string): ErrorKind {
  if (/container does not exist|container .* does not exist/i.test(msg)) return 'NotFound';
  if (/already exists/i.test(msg)) return 'AlreadyExists';
  // The container's process could not start: bad path, user, cwd… (a spec problem, not ours).
  if (/unable to start container process|exec failed/i.test(msg)) return 'FailedPrecondition';
  if (
    /not running|is not (?:started|running)|cannot (?:start|delete|exec|kill|pause|resume)|that is not stopped|already (?:running|stopped|paused)|is paused|has stopped|in (?:created|stopped) state/i.test(
      msg,
    )
  ) {
    return 'FailedPrecondition';
  }
  return 'Internal';
}
