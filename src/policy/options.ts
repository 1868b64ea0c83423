import { z } from 'zod';

/**
 * The policy's settings. Every field has a default; unknown keys are rejected so a typo
 * (`maxUnhealthyPercent`) fails loudly instead of silently keeping the default.
 */
export const policyOptionsSchema = z
  .object({
    /**
     * Share of a group's desired capacity that may be marked Unhealthy and not yet replaced,
     * at once. The budget is max(1, floor(share × desired)): a group of one can always heal.
     */
    maxUnhealthyShare: z.number().gt(0).lte(1).default(0.4),
    /** A group is managed when it carries this tag with this value... */
    optInTagKey: z.string().min(1).max(128).default('autoheal:enabled'),
    optInTagValue: z.string().max(256).default('true'),
    /** ...or when it is named here. */
    groups: z.array(z.string().min(1)).default([]),
    /** Alarm evidence older than this is re-checked before acting (verify-before-act). */
    staleAfterMs: z.number().int().nonnegative().default(120_000),
    /** A second signal for an instance already marked within this window is a duplicate. */
    duplicateWindowMs: z.number().int().nonnegative().default(600_000),
  })
  .strict();

export type PolicyOptions = z.output<typeof policyOptionsSchema>;
export type PolicyOptionsInput = z.input<typeof policyOptionsSchema>;

/**
 * Reads an opt-in tag written `key=value` (the `--opt-in-tag` flag, AUTOHEAL_OPT_IN_TAG). The value
 * may be empty or contain `=`; the key may not be empty. Returns an error text instead of throwing.
 */
export function parseOptInTag(text: string): { optInTagKey: string; optInTagValue: string } | { error: string } {
  const at = text.indexOf('=');
  if (at <= 0) return { error: `expected key=value (for example autoheal:enabled=true), got "${text}"` };
  return { optInTagKey: text.slice(0, at), optInTagValue: text.slice(at + 1) };
}
