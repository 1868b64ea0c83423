/**
 * The healer's intake: any supported input (an event object or a message body string) parsed
 * into signals, decided (by `decide`, the healer's stages), and the outcome put together — which
 * SQS records failed, whether a retry may help, launches and terminations handed on. Never throws.
 */
import { describeError, isRetryable } from '../errors.js';
import { capList, type Logger } from '../log.js';
import { parseEvent } from '../signals/index.js';
import type { HealthSignal, ParseResult } from '../signals/types.js';
import type { HealReport, HealerOptions, VerdictRecord } from './types.js';

export interface IntakeParts {
  logger: Logger;
  /** Decides the signals (the healer's handleSignals). */
  decide: (signals: readonly HealthSignal[], opts: { signal?: AbortSignal }) => Promise<VerdictRecord[]>;
  onLifecycle: HealerOptions['onLifecycle'];
}

/** Parses the input; what cannot be parsed is a rejection with a reason, logged (bounded). */
function parse(input: unknown, logger: Logger): ParseResult {
  let parsed: ParseResult;
  try {
    parsed = parseEvent(input);
  } catch (error) {
    parsed = { signals: [], lifecycle: [], rejected: [{ reason: `unparseable: ${describeError(error)}` }] };
  }
  // Bounded: a body of a million bad records writes a hundred lines and a count, not a million.
  const rejections = capList(parsed.rejected);
  for (const rejection of rejections.items) logger.warn({ ...rejection }, 'rejected: no signal in this input');
  if (rejections.omitted > 0) {
    logger.warn({ omitted: rejections.omitted, total: parsed.rejected.length }, 'rejected: more records with no signal, not logged one by one');
  }
  return parsed;
}

/** Handles one input end to end. */
export async function handleInput(parts: IntakeParts, input: unknown, opts: { signal?: AbortSignal } = {}): Promise<HealReport> {
  const { logger, onLifecycle } = parts;
  const parsed = parse(input, logger);
  const verdicts = await parts.decide(parsed.signals, opts);
  const failed = new Set<string>();
  let retry = false;
  for (const v of verdicts) {
    if (v.error === undefined) continue;
    retry ||= v.retryable === true;
    if (v.signal.recordId) failed.add(v.signal.recordId);
  }

  if (parsed.lifecycle.length > 0) {
    if (onLifecycle) {
      try {
        await onLifecycle(parsed.lifecycle, opts.signal);
      } catch (error) {
        retry ||= isRetryable(error);
        for (const l of parsed.lifecycle) if (l.recordId) failed.add(l.recordId);
        logger.error({ error: describeError(error), count: parsed.lifecycle.length }, 'lifecycle handling failed');
      }
    } else {
      logger.debug({ count: parsed.lifecycle.length }, 'lifecycle signals ignored: no onLifecycle');
    }
  }
  return { ...parsed, verdicts, failedRecordIds: [...failed], retry };
}
