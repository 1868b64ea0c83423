import type { TypedEvents } from '../events.js';
import type { FleetPort } from '../fleet/port.js';
import type { ReplacementMode } from '../fleet/replacement.js';
import type { Logger } from '../log.js';
import type { GroupView, InstanceView } from '../fleet/port.js';
import type { PolicyOptions } from '../policy/options.js';
import type { Hold } from '../policy/ledger.js';
import type { ZoneDown } from '../policy/suspicion.js';
import type { CommitSeam } from './commit.js';
import type { LedgerPort } from './ledger.js';
import type { Verdict } from '../policy/types.js';
import type { AlarmState, HealthSignal, LifecycleSignal, ParseResult } from '../signals/types.js';

export type { AlarmState } from '../signals/types.js';

/** Re-reads an alarm before acting on stale evidence (verify-before-act); `undefined` when the alarm no longer exists. */
export interface AlarmStatePort {
  alarmState(alarmName: string, signal?: AbortSignal): Promise<AlarmState | undefined>;
}

/** What the healer did with one signal. */
export interface VerdictRecord {
  signal: HealthSignal;
  verdict: Verdict;
  groupName?: string;
  /** The verdict was `mark` but dry-run kept the healer from calling the fleet. */
  dryRun: boolean;
  /** A mark in a group whose own maintenance policy overrides the deployment's launch-before-terminate: its replacement dips capacity. */
  replacementOverridden?: true;
  /** Set when acting failed; the verdict stands but the work must be retried. */
  error?: string;
  retryable?: boolean;
  /** Time spent on this signal (views, decision and remedy). */
  ms: number;
}

/** The outcome of one input: what parsing found, and every verdict. */
export interface HealReport extends ParseResult {
  verdicts: VerdictRecord[];
  /** SQS message ids of records whose work failed and may succeed on retry (Lambda `batchItemFailures`). */
  failedRecordIds: string[];
  /** Some work failed and a retry may succeed (for inputs that are not SQS batches). */
  retry: boolean;
}

/** Typed events of the healer, named `component:action:outcome`. */
export interface HealerEvents {
  'healer:verdict:marked': VerdictRecord;
  'healer:verdict:skipped': VerdictRecord;
  'healer:mark:failed': VerdictRecord;
  /** A group's marking was held: frozen (suspected observer), the loop breaker, or frozen until resume. */
  'healer:hold:started': { groupName: string; hold: Hold };
  /** A zone of the group was reported down while the others serve: it is healed within the budget. */
  'healer:zone:down': { groupName: string; zone: ZoneDown };
  /** The group's resume tag names a time in the future beyond the clock skew: it counts from when it was first read. */
  'healer:resume:future': { groupName: string; tagKey: string; tagMs: number; countsAsMs: number };
  /** A group's decisions committed to the ledger, after `conflicts` writes that lost to another writer. */
  'healer:ledger:committed': { groupName: string; conflicts: number };
}

/** What the rails hold for one group now. */
export interface GroupRails {
  /** Marks of the group within the rate window. */
  marksInWindow: number;
  /** The budget in use: Unhealthy or marked and not yet replaced. */
  budgetInUse: number;
  hold?: Hold;
}

/** What the healer knows when it marks an instance: the evidence, the verdict, the instance and its group as it saw them. */
export interface MarkFacts {
  signal: HealthSignal;
  verdict: Verdict;
  instance: InstanceView;
  group: GroupView;
  atMs: number;
}

/**
 * Keeps the evidence of a mark where an operator reads it after the instance is gone (on AWS, the
 * stack's bucket: src/operate/evidence.ts). Called before the mark; the healer bounds the call and
 * marks whatever it answers: evidence never holds up healing.
 */
export interface MarkEvidencePort {
  keep(mark: MarkFacts, signal?: AbortSignal): Promise<void>;
  /** How long the healer waits for `keep` before it marks anyway. */
  readonly timeoutMs: number;
}

export interface HealerOptions {
  fleet: FleetPort;
  policy: PolicyOptions;
  /** Decide but never call SetInstanceHealth. */
  dryRun?: boolean;
  /** The replacement order the deployment sets on its groups (AUTOHEAL_REPLACEMENT); a mark in a group that overrides it says capacity dips. Default `unchanged`. */
  replacement?: ReplacementMode;
  /** Passed to SetInstanceHealth as ShouldRespectGracePeriod; default true. */
  respectGracePeriod?: boolean;
  /** Re-checks stale alarm evidence; without it stale evidence cannot be re-verified. */
  alarms?: AlarmStatePort;
  /** Called with launch/terminate signals (the alarm manager keeps per-instance alarms in sync). */
  onLifecycle?: (signals: LifecycleSignal[], signal?: AbortSignal) => Promise<void>;
  /** Milliseconds since the epoch; injected so tests and benchmarks control time. */
  clock?: () => number;
  logger?: Logger;
  /** Where the rails' memory of each group lives; default: this process's (memoryLedger). */
  ledger?: LedgerPort;
  /** Keeps the evidence of each mark before it is made; default: none (the local group keeps its own). */
  evidence?: MarkEvidencePort;
  /** Jitter and waits between ledger commits that lost to another writer; default: Math.random and timers. */
  seam?: CommitSeam;
}

export interface Healer {
  /** Parses any supported input (an event object or a message body string), decides and acts. Never throws. */
  handle(input: unknown, options?: { signal?: AbortSignal }): Promise<HealReport>;
  /** Decides and acts on signals that were already parsed (the prober's path). Never throws. */
  handleSignals(signals: readonly HealthSignal[], options?: { signal?: AbortSignal }): Promise<VerdictRecord[]>;
  /** What the rails hold for the group now, from its ledger and the given view. */
  railsOf(group: GroupView): Promise<GroupRails>;
  readonly events: TypedEvents<HealerEvents>;
}
