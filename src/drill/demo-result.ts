/**
 * What the demo returns: its result's shape (the `--json` document), the running parts handed
 * to the display, and the summary assembled from the rounds once everything stopped.
 */
import type { BridgeHandle } from '../bridge/index.js';
import type { LocalGroup } from '../fleet/local/local-group.js';
import type { Prober } from '../prober/prober.js';
import type { WithholdReason } from '../prober/types.js';
import { isObserverFailure, type cutMethod, type DemoOptions } from './demo-options.js';
import type { Injection } from './inject.js';
import type { Logger } from '../log.js';
import { detectionFloorMs, percentile } from './stats.js';
import type { RoundTimeline, Timeline } from './timeline.js';

/** p50 and p95 of a stage across every healed instance, in ms. */
export interface StageFigures {
  p50: number;
  p95: number;
  count: number;
}

/** An instance process the demo launched, so a caller can check that none outlives it. */
export interface DemoInstance {
  instanceId: string;
  pid: number;
  port: number;
  replaces?: string;
  availabilityZone?: string;
}

/** One thing an observer did that the timeline shows: degraded, recovered, withheld or sent a verdict. */
export interface ObserverNote {
  ms: number;
  observer: string;
  event: 'degraded' | 'recovered' | 'withheld' | 'sent' | 'unreachable';
  /** For `unreachable`: the group the observer cannot reach, and why it says so. */
  group?: string;
  reason?: string;
  instanceId?: string;
  state?: 'healthy' | 'unhealthy';
  reasons?: WithholdReason[];
}

/** One decision of the healer about an unhealthy verdict. */
export interface DecisionNote {
  ms: number;
  instanceId: string;
  action: 'marked' | 'skipped';
  reason: string;
  detail?: string;
}

/** An instance the healer marked that the demo never failed. */
export interface FalseMark {
  instanceId: string;
  ms: number;
}

/** What the demo did. */
export interface DemoResult {
  healed: boolean;
  /** The demo was interrupted (Ctrl-C) before every round ran. */
  aborted: boolean;
  options: DemoOptions;
  /** The emulator's endpoint (closed when the demo returns). */
  endpoint?: string;
  /** Every instance process launched, in launch order (all stopped when the demo returns). */
  instances: DemoInstance[];
  /** Every decision of the healer, one JSON line each: `autoheal history --file <this>`. */
  decisionsFile?: string;
  rounds: RoundTimeline[];
  observers: {
    count: number;
    quorum: number;
    names: string[];
    /** Observers cut off from the group, and how. */
    cut: string[];
    cutMethod?: typeof cutMethod;
    selfCheck: boolean;
    note: string;
  };
  /** With observer-partition: what happened while one observer was cut off from a healthy group. */
  partition?: {
    durationMs: number;
    budget: number;
    marked: string[];
    /** Unhealthy verdicts the cut observer(s) withheld (self-check, or a group they cannot reach). */
    withheld: number;
    /** Groups the cut observer(s) reported they cannot reach, instead of voting against them. */
    unreachable: Array<{ observer: string; group: string; reason: string }>;
    /** Verdicts the healer skipped as awaitingQuorum (outvoted). */
    outvoted: number;
    /** Verdicts skipped because marking froze (suspicion). */
    frozen: number;
    /** No more marked than allowed: none with a quorum, at most the budget with one observer. */
    held: boolean;
  };
  /** Instances the healer marked that the demo never failed (should always be empty). */
  falseMarks: FalseMark[];
  falseMarkCount: number;
  /** Observer events from the start, capped at {@link noteCap}. */
  observerLog: ObserverNote[];
  /** The healer's decisions on unhealthy verdicts from the start, capped at {@link noteCap}. */
  decisions: DecisionNote[];
  summary: {
    rounds: number;
    healedRounds: number;
    detectionFloorMs: number;
    failureToMarked: StageFigures;
    failureToReplacementInService: StageFigures;
    skippedBudgetSpent: number;
  };
}

/** Observer and decision notes kept, at most (a long run must not grow without bound). */
export const noteCap = 2_000;

/** The running parts, handed to the display while the demo runs. */
export interface DemoParts {
  group: LocalGroup;
  /** The first observer (the live view shows its checks). */
  prober: Prober;
  probers: Prober[];
  bridge: BridgeHandle;
  timeline: Timeline;
  endpoint: string;
  topicArn: string;
  queueUrl: string;
}

/** Callbacks for the display. */
export interface DemoHooks {
  signal?: AbortSignal;
  logger?: Logger;
  onReady?: (parts: DemoParts, options: DemoOptions) => void;
  onRoundStart?: (round: number, injections: readonly Injection[]) => void;
  onRoundEnd?: (round: RoundTimeline) => void;
}

function figures(values: number[]): StageFigures {
  return { p50: Math.round(percentile(values, 50)), p95: Math.round(percentile(values, 95)), count: values.length };
}

/** What the run gathered, for {@link demoResult}. */
export interface DemoRecord {
  options: DemoOptions;
  aborted: boolean;
  endpoint?: string;
  instances: DemoInstance[];
  decisionsFile?: string;
  rounds: RoundTimeline[];
  observers: DemoResult['observers'];
  partition?: DemoResult['partition'];
  observerLog: ObserverNote[];
  decisions: DecisionNote[];
  falseMarks: FalseMark[];
}

/** The result, with whether it healed and the summary of every round. */
export function demoResult(run: DemoRecord): DemoResult {
  const { options, rounds, partition, falseMarks, aborted } = run;
  const victims = rounds.flatMap((r) => r.victims);
  const partitionRun = isObserverFailure(options.failure);
  const fine = partitionRun ? partition?.held === true : rounds.length === options.rounds && rounds.every((r) => r.healed);
  return {
    // A partition run holds when no more was marked than allowed; its false marks are listed either way.
    healed: !aborted && fine && (partitionRun || falseMarks.length === 0),
    aborted,
    options,
    ...(run.endpoint ? { endpoint: run.endpoint } : {}),
    instances: run.instances,
    ...(run.decisionsFile ? { decisionsFile: run.decisionsFile } : {}),
    rounds,
    observers: run.observers,
    ...(partition ? { partition } : {}),
    falseMarks,
    falseMarkCount: falseMarks.length,
    observerLog: run.observerLog,
    decisions: run.decisions,
    summary: {
      rounds: rounds.length,
      healedRounds: rounds.filter((r) => r.healed).length,
      detectionFloorMs: detectionFloorMs(options.intervalMs, options.unhealthyThreshold),
      failureToMarked: figures(victims.flatMap((v) => (v.stagesMs.marked !== undefined ? [v.stagesMs.marked] : []))),
      failureToReplacementInService: figures(
        victims.flatMap((v) => (v.stagesMs.replacementInService !== undefined ? [v.stagesMs.replacementInService] : [])),
      ),
      skippedBudgetSpent: victims.reduce(
        (n, v) => n + v.skipped.filter((s) => s.reason === 'budgetSpent').reduce((m, s) => m + s.count, 0),
        0,
      ),
    },
  };
}
