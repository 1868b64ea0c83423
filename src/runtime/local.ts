/**
 * The composition root for this machine: the healer over a local group of instance processes,
 * for the demo, the recovery benchmark and end-to-end tests. Same core, same rails; the local group
 * carries launch times, so the grace period and the loop breaker work as on AWS.
 */
import { createHealer } from '../healer/healer.js';
import type { Healer } from '../healer/types.js';
import type { LocalGroup } from '../fleet/local/local-group.js';
import type { Logger } from '../log.js';
import { policyOptionsSchema, type PolicyOptionsInput } from '../policy/options.js';

export interface LocalHealerOptions {
  group: LocalGroup;
  /** Policy settings beyond the defaults; the group is always managed by name. */
  policy?: Omit<PolicyOptionsInput, 'groups'>;
  dryRun?: boolean;
  logger?: Logger;
}

/** Builds the healer over a local group. */
export function createLocalHealer(options: LocalHealerOptions): Healer {
  return createHealer({
    fleet: options.group,
    policy: policyOptionsSchema.parse({ ...options.policy, groups: [options.group.name] }),
    ...(options.dryRun !== undefined ? { dryRun: options.dryRun } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
