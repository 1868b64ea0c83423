/** Exit codes scripts can rely on; every command uses these and documents which it returns. */
export const ExitCode = {
  /** The command did its job (explain: at least one signal found). */
  ok: 0,
  /** The command ran but found nothing to act on, or some work failed (explain: no signal). */
  noResult: 1,
  /** Bad usage, unreadable input, or a start-up check failed (queue or function missing). */
  usage: 2,
} as const;
