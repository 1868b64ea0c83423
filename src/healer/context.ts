/**
 * What the healer's stages share: its parts, built once by createHealer (./healer.ts), and one
 * signal on its way through its group's stages.
 */
import type { TypedEvents } from '../events.js';
import type { FleetPort, InstanceView } from '../fleet/port.js';
import type { ReplacementMode } from '../fleet/replacement.js';
import type { Logger } from '../log.js';
import type { RecheckedAlarmState } from '../policy/decide.js';
import type { PolicyOptions } from '../policy/options.js';
import type { Verdict } from '../policy/types.js';
import type { HealthSignal } from '../signals/types.js';
import type { CommitSeam } from './commit.js';
import type { LedgerPort } from './ledger.js';
import type { AlarmStatePort, HealerEvents, MarkFacts } from './types.js';

/** The outcome of asking the fleet to mark an instance. */
export interface MarkOutcome {
  /** The verdict as it stands after the fleet answered (a refusal in the grace period makes it a skip). */
  verdict: Verdict;
  /** The error of a mark that failed. */
  error?: unknown;
}

export interface HealerContext {
  fleet: FleetPort;
  policy: PolicyOptions;
  dryRun: boolean;
  /** The replacement order the deployment sets (HealerOptions.replacement). */
  replacement: ReplacementMode;
  alarms: AlarmStatePort | undefined;
  /** Milliseconds since the epoch. */
  clock: () => number;
  logger: Logger;
  events: TypedEvents<HealerEvents>;
  ledger: LedgerPort;
  /** The ledger key of a group: its name, or a key of its own in dry-run (a dry run never spends a live healer's budget). */
  ledgerKey(groupName: string): string;
  /** Jitter and waits of the commit loop (./commit.ts). */
  seam: CommitSeam;
  /** Keeps the mark's evidence (when the healer has a place for it), then marks the instance Unhealthy through the fleet (not in dry-run). */
  mark(facts: Omit<MarkFacts, 'verdict'>, verdict: Verdict, signal?: AbortSignal): Promise<MarkOutcome>;
}

/** One signal on its way through its group's stages. */
export interface Pending {
  /** Its position in the call's signals: records come back in that order. */
  index: number;
  signal: HealthSignal;
  instance: InstanceView;
  startedMs: number;
  /** For probe evidence: the observers agreeing now, after its vote. */
  agreeing?: string[];
  /** Stale alarm evidence, re-read before it was reported. */
  recheck?: { state: RecheckedAlarmState };
  /** The evidence is refused before it counts (a vote from an observer that may not vote): the verdict. */
  rejected?: Verdict;
  /** The evidence could not be gathered (a failed re-check): the verdict, and the error. */
  failed?: { verdict: Verdict; error: unknown };
}
