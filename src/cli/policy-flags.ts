/** The policy flags shared by `heal` and `bridge --local`, laid over the policy the environment gave. */
import { ConfigError } from '../errors.js';
import { parseOptInTag, policyOptionsSchema, type PolicyOptions, type PolicyOptionsInput } from '../policy/options.js';
import { flagOf } from './flags.js';

/** The policy flags, read from their text (numbers as numbers, `--groups` as a list). */
export interface PolicyFlags {
  maxUnhealthyShare?: number;
  staleAfterMs?: number;
  groups?: string[];
  /** `key=value`, as typed. */
  optInTag?: string;
}

/** `--groups a, b,,c` as `['a', 'b', 'c']`. */
export function groupsFlag(text: string): string[] {
  return text
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
}

/** Both halves of the tag come from the one `--opt-in-tag` flag. */
const flagOfKey = (key: string): string => (key === 'optInTagKey' || key === 'optInTagValue' ? '--opt-in-tag' : flagOf(key));

/** Lays the flags over `base` and validates the result; throws a ConfigError naming each bad flag. */
export function policyFromFlags(base: PolicyOptionsInput, flags: PolicyFlags): PolicyOptions {
  const input: PolicyOptionsInput = { ...base };
  if (flags.maxUnhealthyShare !== undefined) input.maxUnhealthyShare = flags.maxUnhealthyShare;
  if (flags.staleAfterMs !== undefined) input.staleAfterMs = flags.staleAfterMs;
  if (flags.groups !== undefined) input.groups = flags.groups;
  if (flags.optInTag !== undefined) {
    const tag = parseOptInTag(flags.optInTag);
    if ('error' in tag) throw new ConfigError(`--opt-in-tag: ${tag.error}`);
    Object.assign(input, tag);
  }
  const policy = policyOptionsSchema.safeParse(input);
  if (!policy.success) {
    throw new ConfigError(policy.error.issues.map((i) => `${flagOfKey(String(i.path[0] ?? ''))}: ${i.message}`).join('; '));
  }
  return policy.data;
}
