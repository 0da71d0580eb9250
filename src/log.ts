/**
 * Operational logs: JSON lines on stderr with a level (reloads, ejections, breaker transitions,
 * lifecycle). Written synchronously — they are rare, and the last lines before an exit must not be
 * lost. The per-request access log (stdout) belongs to the telemetry module.
 */
import { pino, type Logger } from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { component: 'pilotfish' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}
