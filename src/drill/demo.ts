/**
 * `autoheal demo`, the whole chain on this machine, as on AWS:
 *
 *   local group ─▶ prober ─▶ SNS topic "instance-alert" ─▶ SQS queue "instance-failed"
 *     ▲                         (fauxqs, in-process)         (policy: only that topic may send)
 *     └── replaces ◀── core (healer) marks Unhealthy ◀── bridge (long-polls the queue)
 *
 * then rounds of "inject a failure, record the recovery timeline". Everything it starts is
 * stopped in `finally`, so an error or an abort (Ctrl-C) leaves no child process and no open port.
 */
import { buildApp } from 'fauxqs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createTopic, snsClient, subscribe } from '../aws/sns.js';
import { createQueue, getQueueAttributes, setQueueAttributes, sqsClient } from '../aws/sqs.js';
import { startBridge, healerTarget, type BridgeHandle } from '../bridge/index.js';
import { ConfigError, describeError } from '../errors.js';
import { LocalGroup, maxLocalInstances } from '../fleet/local/local-group.js';
import type { Healer } from '../healer/types.js';
import { silentLogger, type Logger } from '../log.js';
import type { ProberOptionsInput } from '../prober/options.js';
import { runDefaultCheck, startProber, type Prober, type ProberDeps } from '../prober/prober.js';
import type { DegradedReason } from '../prober/self-check.js';
import { unhealthyBudget } from '../policy/budget.js';
import { snsSink } from '../prober/sinks.js';
import { recordDecisions } from '../operate/history.js';
import { createLocalHealer } from '../runtime/local.js';
import { parseEvent } from '../signals/index.js';
import { followGroup, runDrill } from './drill.js';
import { failureModes, type Injection } from './inject.js';
import { detectionFloorMs, percentile } from './stats.js';
import { Timeline, type RoundTimeline } from './timeline.js';

/** The demo's defaults: fast enough that `npx autoheal demo` ends within seconds. */
export const demoDefaults = {
  instances: 3,
  failure: 'freeze',
  rounds: 3,
  intervalMs: 250,
  unhealthyThreshold: 2,
  /**
   * Probe timeout (capped at 80% of the interval). Loopback answers in a millisecond or two; a
   * frozen instance is only seen when its check times out, so a long timeout delays detection
   * (bench/recovery.ts: 200 ms missed the floor + 100 ms goal at p95, 80 ms meets it).
   */
  probeTimeoutMs: 80,
  maxUnhealthyShare: 0.4,
  /** The group's own check of an exited process: slow on purpose, as EC2's status check is. */
  exitNoticeMs: 15_000,
  /** EC2's shutdown, shortened: long enough that a mass failure visibly heals in waves. */
  shutdownMs: 300,
  roundTimeoutMs: 30_000,
  /**
   * An instance that has not listened on its port by then failed to start, and so did the demo:
   * a `--command` that never listens is reported after this, not retried.
   */
  startTimeoutMs: 10_000,
  /** Observers probing the group; the healer marks when 2 of them agree (1 with a single observer). */
  observers: 3,
  /** How long `--failure observer-partition` keeps one observer cut off. */
  partitionMs: 20_000,
} as const;

/** The rails a repeated drill relaxes ({@link demoOptionsSchema} `drillRails`): only the suspicion window's one round, no loop breaker. */
const drillRails = { loopMarks: 1_000_000, maxMarksPerWindow: 1_000_000, suspicionWindowMs: 1_000 } as const;

/** What the demo can break: an instance (inject.ts), or an observer's view of the whole group. */
export const demoFailures = [...failureModes, 'observer-partition'] as const;
export type DemoFailure = (typeof demoFailures)[number];

/**
 * How an observer is cut off here: an injected black hole (its checks to the group time out, as
 * dropped SYNs would). A cut with `ip netns` needs the observer in a process of its own (a
 * network namespace belongs to a process, and the instances listen on this namespace's loopback);
 * the demo's observers share this process, so the black hole is what runs, and the output says so.
 */
export const cutMethod = 'black-hole' as const;

/** Options of {@link runDemo}. */
export const demoOptionsSchema = z
  .object({
    instances: z.number().int().min(1).max(maxLocalInstances).default(demoDefaults.instances),
    failure: z.enum(demoFailures).default(demoDefaults.failure),
    /** Observers (in-process probers, each with its own name) publishing to the topic. */
    observers: z.number().int().min(1).max(5).default(demoDefaults.observers),
    /** Observers cut off from the group during the rounds (observer-partition: 1 unless given). */
    partition: z.number().int().min(0).max(4).default(0),
    /** The observers' self-check (false: only the core's rails stand between a cut observer and the group). */
    selfCheck: z.boolean().default(true),
    /**
     * Relax the three rails that count a drill's own failures over minutes: the loop breaker
     * (marks of instances seconds old), the rate limit (2 × budget per 10 min) and the suspicion window (distinct instances reported down
     * within 2 min). A drill fails a fresh instance round after round on purpose; the benchmark
     * sets this so its 20 rounds measure detection, not those rails. Default: relaxed for rounds
     * of instance failures (a 3-instance group failing 3 fresh instances within 2 minutes would
     * otherwise freeze by round 3), the core's own rails for observer-partition (which shows them).
     */
    drillRails: z.boolean().optional(),
    /** How long observer-partition runs. */
    partitionMs: z.number().int().min(1_000).max(600_000).default(demoDefaults.partitionMs),
    rounds: z.number().int().min(1).max(1000).default(demoDefaults.rounds),
    intervalMs: z.number().int().min(50).max(60_000).default(demoDefaults.intervalMs),
    unhealthyThreshold: z.number().int().min(1).max(10).default(demoDefaults.unhealthyThreshold),
    /**
     * A probe not answered within this failed; unset: 80 ms, or 80% of a shorter interval. A
     * frozen instance is only seen when its check times out, so this adds to detection.
     */
    probeTimeoutMs: z.number().int().min(10).optional(),
    /** Share of the group failed at once each round (0 < mass ≤ 1); unset: one instance. */
    mass: z.number().gt(0).lte(1).optional(),
    maxUnhealthyShare: z.number().gt(0).lte(1).default(demoDefaults.maxUnhealthyShare),
    exitNoticeMs: z.number().int().min(0).default(demoDefaults.exitNoticeMs),
    /** How long a Terminating instance keeps running (the local group's `shutdownDelayMs`). */
    shutdownMs: z.number().int().min(0).max(60_000).default(demoDefaults.shutdownMs),
    roundTimeoutMs: z.number().int().positive().default(demoDefaults.roundTimeoutMs),
    startTimeoutMs: z.number().int().positive().default(demoDefaults.startTimeoutMs),
    /** A shell command to run as each instance instead of the built-in server (given $PORT). */
    command: z.string().min(1).optional(),
  })
  .strict()
  .refine((o) => o.probeTimeoutMs === undefined || o.probeTimeoutMs <= o.intervalMs, {
    path: ['probeTimeoutMs'],
    message: 'probeTimeoutMs must be at most intervalMs',
  })
  .refine((o) => o.partition < o.observers, { path: ['partition'], message: 'partition must leave at least one observer connected (less than observers)' });

export type DemoOptions = z.output<typeof demoOptionsSchema>;
export type DemoOptionsInput = z.input<typeof demoOptionsSchema>;

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
}

/** One thing an observer did that the timeline shows: degraded, recovered, withheld or sent a verdict. */
export interface ObserverNote {
  ms: number;
  observer: string;
  event: 'degraded' | 'recovered' | 'withheld' | 'sent';
  instanceId?: string;
  state?: 'healthy' | 'unhealthy';
  reasons?: DegradedReason[];
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
    /** Unhealthy verdicts the cut observer(s) withheld (self-check). */
    withheld: number;
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

const region = 'us-east-1';
const accountId = '000000000000';
const topicName = 'instance-alert';
const queueName = 'instance-failed';
const credentials = { accessKeyId: 'demo', secretAccessKey: 'demo' };

/** The original design's queue policy: only the topic may send to the queue. */
export function queuePolicy(queueArn: string, topicArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'instance-alert-to-instance-failed',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      },
    ],
  });
}

/** The healer, with each input shown to the timeline first (it marks when a verdict reached the healer). */
function noting(healer: Healer, onInput: (input: unknown) => void): Healer {
  return {
    ...healer,
    handle: (input, options) => {
      onInput(input);
      return healer.handle(input, options);
    },
  };
}

/** The demo's prober settings; bench/recovery.ts's in-process baseline uses them too, so both measure the same prober. */
export function drillProberOptions(intervalMs: number, unhealthyThreshold: number, timeoutMs: number): ProberOptionsInput {
  return {
    intervalMs,
    timeoutMs,
    unhealthyThreshold,
    healthyThreshold: 2,
    // An instance skipped for budget is sent again soon, so the next wave can take it.
    repeatUnhealthyAfterMs: Math.max(500, intervalMs * unhealthyThreshold),
  };
}

function figures(values: number[]): StageFigures {
  return { p50: Math.round(percentile(values, 50)), p95: Math.round(percentile(values, 95)), count: values.length };
}

/**
 * What the demo says when an instance could not start: which instance, what ran, what happened,
 * and what a `--command` must do.
 */
function startFailure(options: DemoOptions, instanceId: string, error: string): ConfigError {
  const what = options.command ? `--command ${JSON.stringify(options.command)}` : 'the built-in instance server';
  const hint = options.command ? '; the command must serve HTTP on 127.0.0.1:$PORT' : '';
  return new ConfigError(`the demo's instances could not start: ${what} (instance ${instanceId}) ${error}${hint}`);
}

/**
 * Runs the demo; never leaves anything running behind. Rejects only when the chain cannot start,
 * also when an instance fails to start (exits, or does not listen within `startTimeoutMs`):
 * the first such failure ends the demo at once with a ConfigError that says what happened.
 */
export async function runDemo(input: DemoOptionsInput, hooks: DemoHooks = {}): Promise<DemoResult> {
  const parsed = demoOptionsSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`demo options: ${z.prettifyError(parsed.error)}`);
  const options = parsed.data;
  const logger = hooks.logger ?? silentLogger;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const rounds: RoundTimeline[] = [];
  const launched: DemoInstance[] = [];
  let endpoint: string | undefined;
  let decisionsFile: string | undefined;
  const observerLog: ObserverNote[] = [];
  const decisions: DecisionNote[] = [];
  const falseMarks: FalseMark[] = [];
  /** Every instance the demo failed on purpose. */
  const failed = new Set<string>();
  let partition: DemoResult['partition'];
  let observersInfo: DemoResult['observers'] = {
    count: options.observers,
    quorum: Math.min(2, options.observers),
    names: [],
    cut: [],
    selfCheck: options.selfCheck,
    note: '',
  };

  const stopIfAborted = (): void => hooks.signal?.throwIfAborted();
  try {
    // The emulator, on loopback only.
    const app = buildApp({ logger: false, defaultRegion: region });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    endpoint = `http://127.0.0.1:${port}`;
    const emulator = { region, endpoint, credentials };
    const sns = snsClient(emulator);
    const sqs = sqsClient(emulator);
    cleanups.push(() => sns.destroy(), () => sqs.destroy());

    // Topic, queue with its policy, subscription: the same calls as on AWS.
    const topicArn = await createTopic(sns, topicName);
    const queueArnOf = async (url: string, name: string): Promise<string> =>
      (await getQueueAttributes(sqs, url, ['QueueArn'])).QueueArn ?? `arn:aws:sqs:${region}:${accountId}:${name}`;
    // A dead-letter queue behind it, so a message that can never succeed stops coming back.
    const dlqUrl = await createQueue(sqs, `${queueName}-dlq`);
    const dlqArn = await queueArnOf(dlqUrl, `${queueName}-dlq`);
    const queueUrl = await createQueue(sqs, queueName);
    const queueArn = await queueArnOf(queueUrl, queueName);
    await setQueueAttributes(sqs, queueUrl, {
      Policy: queuePolicy(queueArn, topicArn),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }),
    });
    await subscribe(sns, { topicArn, protocol: 'sqs', endpoint: queueArn });

    const group = new LocalGroup(
      {
        name: 'autoheal-demo',
        desiredCapacity: options.instances,
        exitNoticeDelayMs: options.exitNoticeMs,
        shutdownDelayMs: options.shutdownMs,
        stopTimeoutMs: 1_000,
        startTimeoutMs: options.startTimeoutMs,
        ...(options.command ? { command: options.command } : {}),
      },
      { logger },
    );
    cleanups.push(() => group.stop());
    group.events.on('group:reaper:started', (e) => logger.info({ pid: e.pid }, 'demo: reaper started'));
    // Until the group first settles, a launch failure ends the demo (the group would retry forever).
    let rejectStart!: (error: Error) => void;
    const startFailed = new Promise<never>((_resolve, reject) => (rejectStart = reject));
    startFailed.catch(() => {});
    const offStartFailure = group.events.on('group:launch:failed', (e) => rejectStart(startFailure(options, e.instanceId, e.error)));
    cleanups.push(offStartFailure);
    group.events.on('group:instance:launched', (e) => {
      launched.push({ instanceId: e.instanceId, pid: e.pid, port: e.port, ...(e.replaces ? { replaces: e.replaces } : {}) });
      logger.info({ instanceId: e.instanceId, pid: e.pid, port: e.port }, 'demo: instance launched');
    });
    const killOnExit = (): void => group.killNow();
    process.once('exit', killOnExit);
    cleanups.push(() => process.off('exit', killOnExit));
    stopIfAborted();
    group.start();

    // N observers, each its own prober with its own name, all publishing to the topic; the
    // healer marks when `quorum` of them agree. A single observer marks alone (quorum 1).
    const quorum = Math.min(2, options.observers);
    const healer = createLocalHealer({
      group,
      policy: { maxUnhealthyShare: options.maxUnhealthyShare, probeQuorum: quorum, ...((options.drillRails ?? options.failure !== 'observer-partition') ? drillRails : {}) },
      logger,
    });
    decisionsFile = join(mkdtempSync(join(tmpdir(), 'autoheal-demo-')), 'decisions.jsonl');
    writeFileSync(decisionsFile, '');
    cleanups.push(recordDecisions(healer.events, decisionsFile));
    const names = Array.from({ length: options.observers }, (_, k) => `observer-${k + 1}`);
    const cut = new Set<string>();
    const probeTimeoutMs = options.probeTimeoutMs ?? Math.max(10, Math.min(demoDefaults.probeTimeoutMs, Math.floor(options.intervalMs * 0.8)));
    const probers = names.map((observer) => {
      // The black hole: while cut, a check waits its timeout and fails as a dropped SYN would.
      const check: NonNullable<ProberDeps['check']> = (target, timeoutMs, agent) =>
        cut.has(observer)
          ? new Promise((resolve) => setTimeout(() => resolve({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs))
          : runDefaultCheck(target, timeoutMs, agent);
      const prober = startProber(
        {
          ...drillProberOptions(options.intervalMs, options.unhealthyThreshold, probeTimeoutMs),
          observer,
          // Without the self-check, nothing in the observer stops it: the core's rails alone.
          ...(options.selfCheck ? {} : { maxLatenessMs: 3_600_000, cutOffMinTargets: 1_000_000 }),
        },
        { sink: snsSink({ client: sns, topicArn, accountId }), region, logger, check },
      );
      cleanups.push(() => prober.stop());
      cleanups.push(followGroup(group, prober));
      return prober;
    });
    const prober = probers[0] as Prober;
    const startedMs = Date.now();
    const note = <T>(list: T[], item: T): void => {
      if (list.length < noteCap) list.push(item);
    };
    for (const p of probers) {
      const observer = p.options.observer;
      p.events.on('prober:observer:degraded', (e) => note(observerLog, { ms: e.atMs - startedMs, observer, event: 'degraded', reasons: e.reasons }));
      p.events.on('prober:observer:recovered', (e) => note(observerLog, { ms: e.atMs - startedMs, observer, event: 'recovered' }));
      p.events.on('prober:signal:withheld', (e) =>
        note(observerLog, { ms: e.atMs - startedMs, observer, event: 'withheld', instanceId: e.instanceId, reasons: e.reasons }),
      );
      p.events.on('prober:signal:sent', (e) =>
        note(observerLog, { ms: e.atMs - startedMs, observer, event: 'sent', instanceId: e.signal.instanceId, state: e.signal.state }),
      );
    }
    const recordDecision = (action: 'marked' | 'skipped') => (r: { signal: { instanceId: string; state: string }; verdict: { reason: string; detail?: string } }) => {
      if (r.signal.state !== 'unhealthy') return;
      const ms = Date.now() - startedMs;
      note(decisions, { ms, instanceId: r.signal.instanceId, action, reason: r.verdict.reason, ...(r.verdict.detail ? { detail: r.verdict.detail } : {}) });
      if (action === 'marked' && !failed.has(r.signal.instanceId)) falseMarks.push({ instanceId: r.signal.instanceId, ms });
    };
    healer.events.on('healer:verdict:marked', recordDecision('marked'));
    healer.events.on('healer:verdict:skipped', recordDecision('skipped'));
    observersInfo = {
      count: options.observers,
      quorum,
      names,
      cut: [],
      selfCheck: options.selfCheck,
      note:
        quorum === 1
          ? 'one observer: quorum 1, its verdicts mark alone (only its self-check and the core rails stand in the way)'
          : `${options.observers} observers, quorum ${quorum}: one observer alone can report, never mark`,
    };

    const timeline = new Timeline({ group, prober: probers, healer });
    cleanups.push(() => timeline.dispose());
    const noteMessage = (body: unknown): void => {
      const ids = parseEvent(body).signals.filter((s) => s.state === 'unhealthy').map((s) => s.instanceId);
      timeline.noteMessage(ids);
    };
    stopIfAborted();
    const bridge = await startBridge({
      queueUrl,
      sqs,
      target: healerTarget(noting(healer, noteMessage)),
      waitSeconds: 1,
      shutdownTimeoutSeconds: 2,
      retryBaseSeconds: 1,
      logger,
    });
    cleanups.push(() => bridge.stop());

    stopIfAborted();
    // The wait ends with the race: its timer must not keep the process alive once start-up failed.
    const settling = new AbortController();
    try {
      const signal = hooks.signal ? AbortSignal.any([hooks.signal, settling.signal]) : settling.signal;
      await Promise.race([group.whenSettled(30_000, signal), startFailed]);
    } finally {
      settling.abort();
    }
    offStartFailure();
    hooks.onReady?.({ group, prober, probers, bridge, timeline, endpoint, topicArn, queueUrl }, options);

    const cutCount = options.failure === 'observer-partition' ? Math.max(1, options.partition) : options.partition;
    for (const name of names.slice(0, cutCount)) cut.add(name);
    if (cut.size > 0) {
      observersInfo.cut = [...cut];
      observersInfo.cutMethod = cutMethod;
      logger.warn({ cut: [...cut], cutMethod }, 'demo: observer(s) cut off from the group');
    }
    if (options.failure === 'observer-partition') {
      // The instances stay healthy: whatever is marked now is a false mark.
      const from = decisions.length;
      await abortableDelay(options.partitionMs, hooks.signal);
      const during = decisions.slice(from);
      const marked = [...new Set(during.filter((d) => d.action === 'marked').map((d) => d.instanceId))];
      const budget = unhealthyBudget(options.instances, options.maxUnhealthyShare);
      partition = {
        durationMs: options.partitionMs,
        budget,
        marked,
        withheld: observerLog.filter((n) => n.event === 'withheld').length,
        outvoted: during.filter((d) => d.reason === 'awaitingQuorum').length,
        frozen: during.filter((d) => d.reason === 'frozen').length,
        held: quorum > 1 ? marked.length === 0 : marked.length <= budget,
      };
    } else rounds.push(
      ...(await runDrill(group, timeline, {
        rounds: options.rounds,
        failure: options.failure,
        onInjected: (ids) => ids.forEach((id) => failed.add(id)),
        ...(options.mass !== undefined ? { mass: options.mass } : {}),
        roundTimeoutMs: options.roundTimeoutMs,
        settleTimeoutMs: 30_000,
        ...(hooks.signal ? { signal: hooks.signal } : {}),
        onRoundStart: (round, injections) => {
          logger.info({ round, injected: injections.map((i) => i.instanceId) }, 'demo: round started');
          hooks.onRoundStart?.(round, injections);
        },
        ...(hooks.onRoundEnd ? { onRoundEnd: hooks.onRoundEnd } : {}),
      })),
    );
  } catch (error) {
    if (!hooks.signal?.aborted) throw error;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ error: describeError(error) }, 'demo: cleanup step failed');
      }
    }
  }

  const victims = rounds.flatMap((r) => r.victims);
  const aborted = hooks.signal?.aborted === true && rounds.length < options.rounds;
  const partitionRun = options.failure === 'observer-partition';
  const fine = partitionRun ? partition?.held === true : rounds.length === options.rounds && rounds.every((r) => r.healed);
  return {
    // A partition run holds when no more was marked than allowed; its false marks are listed either way.
    healed: !aborted && fine && (partitionRun || falseMarks.length === 0),
    aborted,
    options,
    ...(endpoint ? { endpoint } : {}),
    instances: launched,
    ...(decisionsFile ? { decisionsFile } : {}),
    rounds,
    observers: observersInfo,
    ...(partition ? { partition } : {}),
    falseMarks,
    falseMarkCount: falseMarks.length,
    observerLog,
    decisions,
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

/** Waits `ms`, or less when `signal` aborts. */
function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
