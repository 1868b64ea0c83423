import { pino, type Logger, type Level } from 'pino';

export type { Logger };

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level written; default `info`, or `LOG_LEVEL` from the environment. */
  level?: Level | 'silent';
  /** Written as `component` on every line. */
  component?: string;
  /** File descriptor to write JSON lines to: 1 for the Lambda runtime, 2 (default) for the CLI. */
  fd?: 1 | 2;
}

/**
 * One structured JSON logger for every part. The CLI writes logs to stderr so that stdout
 * stays machine-readable; Lambda writes to stdout, which CloudWatch Logs collects.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.LOG_LEVEL as Level | undefined) ?? 'info';
  return pino(
    {
      level,
      base: options.component ? { component: options.component } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: options.fd ?? 2, sync: true }),
  );
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * The most items of one list (rejections, skipped verdicts) that one event writes to a log or
 * an output; the rest are counted, not listed. A body of a million tiny records then costs
 * this many lines and one count, not a million lines (or a Lambda response past its 6 MB limit).
 */
export const maxItemsPerEvent = 100;

/** The first `max` items of `items`, and how many were left out: for logs and outputs that must stay bounded. */
export function capList<T>(items: readonly T[], max: number = maxItemsPerEvent): { items: T[]; omitted: number } {
  if (items.length <= max) return { items: [...items], omitted: 0 };
  return { items: items.slice(0, Math.max(0, max)), omitted: items.length - Math.max(0, max) };
}
