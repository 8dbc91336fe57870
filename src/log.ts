import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines on stderr; synchronous so the last lines survive a crash. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
