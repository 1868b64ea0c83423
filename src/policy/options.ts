import { z } from 'zod';

/**
 * The shortest window a rail may have. A window counts evidence or marks that arrive apart in
 * time; below a second it holds at most the evidence of one batch, so the rail it belongs to
 * (suspicion, quorum, rate limit, freeze, loop breaker) could never see a pattern and would be
 * switched off without a word.
 */
export const minWindowMs = 1_000;

/** A window of a rail, in milliseconds, at least {@link minWindowMs}. */
const windowMs = () =>
  z
    .number()
    .int()
    .min(minWindowMs, { message: `must be at least ${minWindowMs} ms: a shorter window holds nothing, and the rail would never act` });

/**
 * The policy's settings. Every field has a default; unknown keys are rejected so a typo
 * (`maxUnhealthyPercent`) fails loudly instead of silently keeping the default. The README's
 * "Safety rails" section gives the reasoning behind each default.
 */
export const policyOptionsSchema = z
  .object({
    /**
     * Share of what serves (./budget.ts: InService and Healthy, plus the marked not yet replaced,
     * never more than desired) that may be marked Unhealthy and not yet replaced, at once. The
     * budget is max(1, floor(share × serving)): a group of one can always heal.
     */
    maxUnhealthyShare: z.number().gt(0).lte(1).default(0.4),
    /** A group is managed when it carries this tag with this value... */
    optInTagKey: z.string().min(1).max(128).default('autoheal:enabled'),
    optInTagValue: z.string().max(256).default('true'),
    /** ...or when it is named here. */
    groups: z.array(z.string().min(1)).default([]),
    /** Alarm evidence older than this (or stamped in the future) is re-checked before acting (verify-before-act). */
    staleAfterMs: z.number().int().nonnegative().default(120_000),
    /** A second signal for an instance already marked within this window is a duplicate. */
    duplicateWindowMs: z.number().int().nonnegative().default(600_000),
    /**
     * Marks per group within {@link markRateWindowMs}; beyond it, `rateLimited`. Unset: twice the
     * group's budget, so a real mass failure heals in two full waves while an observer gone wrong
     * churns at most that many instances per window (anchor: Kubernetes' node eviction rate).
     */
    maxMarksPerWindow: z.number().int().positive().optional(),
    markRateWindowMs: windowMs().default(600_000),
    /**
     * Observer suspicion: when at least {@link suspicionMinInstances} instances, and more than this
     * share of what serves, are reported unhealthy within {@link suspicionWindowMs} — of the whole
     * group, or of most of its Availability Zones — marking freezes for {@link freezeMs}. One zone
     * down while the others serve is healed within the budget (anchor: the Kubernetes node
     * controller keeps evicting in a fully disrupted zone, and stops only when all zones look down).
     */
    suspicionShare: z.number().gt(0).lte(1).default(0.8),
    suspicionWindowMs: windowMs().default(120_000),
    /** Fewer instances reported down than this never freeze a group: a group of one must heal. */
    suspicionMinInstances: z.number().int().min(2).default(3),
    freezeMs: windowMs().default(600_000),
    /**
     * A group that freezes this many times in a row, each freeze starting within {@link freezeMs} of
     * the last one lifting, is held until `autoheal resume`: evidence that keeps freezing the group is
     * wrong, and each lift would otherwise let another budget go.
     */
    escalateAfterFreezes: z.number().int().min(2).default(3),
    /**
     * Loop breaker: when {@link loopMarks} replacements of a group (instances launched after an
     * earlier mark) are marked within {@link loopWindowMs}, each less than {@link loopYoungMs} after
     * its launch, marking holds until the window passes or an operator resumes.
     */
    loopMarks: z.number().int().min(2).default(3),
    loopWindowMs: windowMs().default(1_800_000),
    loopYoungMs: windowMs().default(900_000),
    /** Probe verdicts mark only when this many distinct observers agree within {@link quorumWindowMs}. */
    probeQuorum: z.number().int().min(1).max(9).default(2),
    quorumWindowMs: windowMs().default(30_000),
    /** The observers whose probe verdicts count (AUTOHEAL_OBSERVERS, ./voters.ts); unset: every name counts. */
    voters: z.array(z.object({ name: z.string().min(1), roleId: z.string().min(1).optional() }).strict()).min(1).optional(),
    /** Group tag that pauses healing: `true`, or a full ISO 8601 time until which it is paused (./tags.ts); anything else pauses. */
    pauseTagKey: z.string().min(1).max(128).default('autoheal:paused'),
    /** Group tag written by `autoheal resume`: a hold that began before its time is lifted (a time in the future counts as when first read). */
    resumeTagKey: z.string().min(1).max(128).default('autoheal:resumed-at'),
    /** Instance tag suppressing healing of that instance: `true`, or until a full ISO 8601 time (deploys, maintenance); anything else suppresses. */
    suppressTagKey: z.string().min(1).max(128).default('autoheal:suppressed-until'),
  })
  .strict();

export type PolicyOptions = z.output<typeof policyOptionsSchema>;
export type PolicyOptionsInput = z.input<typeof policyOptionsSchema>;

/**
 * Why a probe quorum can never be reached by the observers there are, or undefined. Only who
 * deploys the observers knows their number (the construct's and the module's subnets, one
 * observer each; `autoheal probe` healing in its own process is one), so they ask here.
 */
export function quorumProblem(probeQuorum: number, observers: number): string | undefined {
  if (probeQuorum <= observers) return undefined;
  return `${probeQuorum} observers must agree, but ${observers} ${observers === 1 ? 'is' : 'are'} deployed: probe verdicts could never mark; lower the quorum or add observers`;
}

/**
 * Reads an opt-in tag written `key=value` (the `--opt-in-tag` flag, AUTOHEAL_OPT_IN_TAG). The value
 * may be empty or contain `=`; the key may not be empty. Returns an error text instead of throwing.
 */
export function parseOptInTag(text: string): { optInTagKey: string; optInTagValue: string } | { error: string } {
  const at = text.indexOf('=');
  if (at <= 0) return { error: `expected key=value (for example autoheal:enabled=true), got "${text}"` };
  return { optInTagKey: text.slice(0, at), optInTagValue: text.slice(at + 1) };
}
