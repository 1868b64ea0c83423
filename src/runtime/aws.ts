/**
 * The composition root for AWS: the one place a healer is built against real Auto Scaling, EC2
 * and CloudWatch. The Lambda healer, `heal`, `bridge --local` and `probe` all take it from here,
 * so they run the same fleet view (launch times included), the same re-check of stale alarms and
 * the same settings, and keep the same evidence of each mark (AUTOHEAL_EVIDENCE_BUCKET). It
 * imports no CloudWatch code: the Lambda loads CloudWatch on first use
 * (its cold start), the commands build their clients in ./aws-commands.ts.
 */
import type { AutoScalingClient } from '../aws/autoscaling.js';
import type { Settings } from '../config.js';
import { AwsFleet, ec2InstanceFacts, type InstanceFactsReader } from '../fleet/aws/fleet.js';
import { createHealer } from '../healer/healer.js';
import type { LedgerPort } from '../healer/ledger.js';
import type { AlarmStatePort, Healer, HealerOptions } from '../healer/types.js';
import type { Logger } from '../log.js';
import { s3MarkEvidence } from '../operate/evidence.js';

/** What an AWS healer is built from; the clients are injected so tests and the Lambda choose them. */
export interface AwsHealerDeps {
  settings: Settings;
  autoScaling: AutoScalingClient;
  /** Launch times (grace period, loop breaker) and instance tags (suppression); default: EC2 DescribeInstances. */
  instanceFacts?: InstanceFactsReader;
  /** Re-reads stale alarm evidence; without it stale alarms act unverified (and say so). */
  alarms?: AlarmStatePort;
  onLifecycle?: HealerOptions['onLifecycle'];
  logger: Logger;
  clock?: () => number;
  /** The rails' ledger (./ledger.ts openLedger); default: this process's memory. */
  ledger?: LedgerPort;
}

/** Builds the healer over AWS from its parts. */
export function createAwsHealer(deps: AwsHealerDeps): { healer: Healer; fleet: AwsFleet } {
  const fleet = new AwsFleet(deps.autoScaling, { instanceFacts: deps.instanceFacts ?? ec2InstanceFacts(deps.autoScaling) });
  const healer = createHealer({
    fleet,
    policy: deps.settings.policy,
    dryRun: deps.settings.dryRun,
    replacement: deps.settings.replacement,
    respectGracePeriod: deps.settings.respectGracePeriod,
    logger: deps.logger,
    ...(deps.alarms ? { alarms: deps.alarms } : {}),
    ...(deps.onLifecycle ? { onLifecycle: deps.onLifecycle } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.settings.evidenceBucket ? { evidence: s3MarkEvidence(deps.autoScaling, deps.settings.evidenceBucket) } : {}),
    ...(deps.ledger ? { ledger: deps.ledger } : {}),
  });
  return { healer, fleet };
}
