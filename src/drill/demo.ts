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
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { awsClientSettings } from '../aws-config.js';
import { startBridge, healerTarget, type BridgeHandle } from '../bridge/index.js';
import { ConfigError, describeError } from '../errors.js';
import { LocalGroup, maxLocalInstances } from '../fleet/local/local-group.js';
import type { Healer } from '../healer/types.js';
import { silentLogger, type Logger } from '../log.js';
import type { ProberOptionsInput } from '../prober/options.js';
import { startProber, type Prober } from '../prober/prober.js';
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
} as const;

/** Options of {@link runDemo}. */
export const demoOptionsSchema = z
  .object({
    instances: z.number().int().min(1).max(maxLocalInstances).default(demoDefaults.instances),
    failure: z.enum(failureModes).default(demoDefaults.failure),
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
  });

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
  summary: {
    rounds: number;
    healedRounds: number;
    detectionFloorMs: number;
    failureToMarked: StageFigures;
    failureToReplacementInService: StageFigures;
    skippedBudgetSpent: number;
  };
}

/** The running parts, handed to the display while the demo runs. */
export interface DemoParts {
  group: LocalGroup;
  prober: Prober;
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

  const stopIfAborted = (): void => hooks.signal?.throwIfAborted();
  try {
    // The emulator, on loopback only.
    const app = buildApp({ logger: false, defaultRegion: region });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    endpoint = `http://127.0.0.1:${port}`;
    const clientSettings = { ...awsClientSettings(region), endpoint, credentials };
    const sns = new SNSClient(clientSettings);
    const sqs = new SQSClient({ ...clientSettings, useQueueUrlAsEndpoint: false });
    cleanups.push(() => sns.destroy(), () => sqs.destroy());

    // Topic, queue with its policy, subscription: the same calls as on AWS.
    const { TopicArn: topicArn = '' } = await sns.send(new CreateTopicCommand({ Name: topicName }));
    const queueArnOf = async (url: string, name: string): Promise<string> => {
      const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
      return out.Attributes?.QueueArn ?? `arn:aws:sqs:${region}:${accountId}:${name}`;
    };
    // A dead-letter queue behind it, so a message that can never succeed stops coming back.
    const { QueueUrl: dlqUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: `${queueName}-dlq` }));
    const dlqArn = await queueArnOf(dlqUrl, `${queueName}-dlq`);
    const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
    const queueArn = await queueArnOf(queueUrl, queueName);
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queueUrl,
        Attributes: {
          Policy: queuePolicy(queueArn, topicArn),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }),
        },
      }),
    );
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));

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

    // One prober here: its verdicts mark alone (quorum 1), as `autoheal probe` with AUTOHEAL_PROBE_QUORUM=1 would.
    const healer = createLocalHealer({ group, policy: { maxUnhealthyShare: options.maxUnhealthyShare, probeQuorum: 1 }, logger });
    decisionsFile = join(mkdtempSync(join(tmpdir(), 'autoheal-demo-')), 'decisions.jsonl');
    writeFileSync(decisionsFile, '');
    cleanups.push(recordDecisions(healer.events, decisionsFile));
    const prober = startProber(
      drillProberOptions(
        options.intervalMs,
        options.unhealthyThreshold,
        options.probeTimeoutMs ?? Math.max(10, Math.min(demoDefaults.probeTimeoutMs, Math.floor(options.intervalMs * 0.8))),
      ),
      { sink: snsSink({ client: sns, topicArn, accountId }), region, logger },
    );
    cleanups.push(() => prober.stop());
    cleanups.push(followGroup(group, prober));

    const timeline = new Timeline({ group, prober, healer });
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
    hooks.onReady?.({ group, prober, bridge, timeline, endpoint, topicArn, queueUrl }, options);

    rounds.push(
      ...(await runDrill(group, timeline, {
        rounds: options.rounds,
        failure: options.failure,
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
  return {
    healed: !aborted && rounds.length === options.rounds && rounds.every((r) => r.healed),
    aborted,
    options,
    ...(endpoint ? { endpoint } : {}),
    instances: launched,
    ...(decisionsFile ? { decisionsFile } : {}),
    rounds,
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
