/**
 * `autoheal demo`, the whole chain on this machine, as on AWS:
 *
 *   local group ─▶ prober ─▶ SNS topic "instance-alert" ─▶ SQS queue "instance-failed"
 *     ▲                         (fauxqs, in-process)         (policy: only that topic may send)
 *     └── replaces ◀── core (healer) marks Unhealthy ◀── bridge (long-polls the queue)
 *
 * then rounds of "inject a failure, record the recovery timeline". This file runs the stages in
 * order; each has its room: the options (demo-options.ts), the emulator (below), the group
 * (demo-group.ts), the healer and its observers (demo-healing.ts), the rounds (drill.ts) or the
 * partition (partition.ts), the result (demo-result.ts). Everything it starts is on the run's
 * clean-ups (demo-run.ts), undone in `finally`, so an error or an abort (Ctrl-C) leaves no child
 * process and no open port.
 */
import { buildApp } from 'fauxqs';
import { createTopic, snsClient, subscribe } from '../aws/sns.js';
import { createQueue, getQueueAttributes, setQueueAttributes, sqsClient, type SQSClient } from '../aws/sqs.js';
import { startBridge, healerTarget } from '../bridge/index.js';
import type { Healer } from '../healer/types.js';
import { silentLogger } from '../log.js';
import type { Prober } from '../prober/prober.js';
import { parseEvent } from '../signals/index.js';
import { runDrill } from './drill.js';
import { cutMethod, isObserverFailure, parseDemoOptions, type DemoOptionsInput } from './demo-options.js';
import { startDemoGroup } from './demo-group.js';
import { newNotes, startHealing } from './demo-healing.js';
import { demoResult, type DemoHooks, type DemoInstance, type DemoResult } from './demo-result.js';
import { abortableDelay, unwind, type Cleanup, type DemoRun } from './demo-run.js';
import { runPartition } from './partition.js';
import { Timeline, type RoundTimeline } from './timeline.js';

export { cutMethod, demoDefaults, demoFailures, demoOptionsSchema, type DemoFailure, type DemoOptions, type DemoOptionsInput } from './demo-options.js';
export { drillProberOptions } from './demo-healing.js';
export {
  noteCap,
  type DecisionNote,
  type DemoHooks,
  type DemoInstance,
  type DemoParts,
  type DemoResult,
  type FalseMark,
  type ObserverNote,
  type StageFigures,
} from './demo-result.js';

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

interface Emulator {
  endpoint: string;
  sns: ReturnType<typeof snsClient>;
  sqs: SQSClient;
  topicArn: string;
  queueUrl: string;
}

/** The SNS/SQS emulator, and on it the original design's topic, queue (with its policy and a dead-letter queue) and subscription. */
async function startEmulator(cleanups: Cleanup[]): Promise<Emulator> {
  // The emulator, on loopback only.
  const app = buildApp({ logger: false, defaultRegion: region });
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const endpoint = `http://127.0.0.1:${port}`;
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

  return { endpoint, sns, sqs, topicArn, queueUrl };
}

/**
 * Runs the demo; never leaves anything running behind. Rejects only when the chain cannot start,
 * also when an instance fails to start (exits, or does not listen within `startTimeoutMs`):
 * the first such failure ends the demo at once with a ConfigError that says what happened.
 */
export async function runDemo(input: DemoOptionsInput, hooks: DemoHooks = {}): Promise<DemoResult> {
  const options = parseDemoOptions(input);
  const run: DemoRun = { options, logger: hooks.logger ?? silentLogger, cleanups: [], ...(hooks.signal ? { signal: hooks.signal } : {}) };
  const notes = newNotes();
  const rounds: RoundTimeline[] = [];
  const launched: DemoInstance[] = [];
  let record: Pick<DemoResult, 'endpoint' | 'decisionsFile' | 'observers' | 'partition'> = { observers: notStarted(run) };
  try {
    const emulator = await startEmulator(run.cleanups);
    record.endpoint = emulator.endpoint;
    const { group, started } = startDemoGroup(run, launched);
    const healing = startHealing(run, group, { sns: emulator.sns, topicArn: emulator.topicArn, region, accountId }, notes);
    record = { ...record, decisionsFile: healing.decisionsFile, observers: healing.observers };
    const timeline = new Timeline({ group, prober: healing.probers, healer: healing.healer });
    run.cleanups.push(() => timeline.dispose());
    const noteMessage = (body: unknown): void => {
      const ids = parseEvent(body).signals.filter((s) => s.state === 'unhealthy').map((s) => s.instanceId);
      timeline.noteMessage(ids);
    };
    run.signal?.throwIfAborted();
    const bridge = await startBridge({
      queueUrl: emulator.queueUrl,
      sqs: emulator.sqs,
      target: healerTarget(noting(healing.healer, noteMessage)),
      waitSeconds: 1,
      shutdownTimeoutSeconds: 2,
      retryBaseSeconds: 1,
      logger: run.logger,
    });
    run.cleanups.push(() => bridge.stop());
    run.signal?.throwIfAborted();
    await started();
    const prober = healing.probers[0] as (typeof healing.probers)[number];
    hooks.onReady?.({ group, prober, probers: healing.probers, bridge, timeline, endpoint: emulator.endpoint, topicArn: emulator.topicArn, queueUrl: emulator.queueUrl }, options);
    await cutObservers(run, healing);
    if (isObserverFailure(options.failure)) record.partition = await runPartition(run, notes, healing.observers.quorum);
    else rounds.push(...(await runDrill(group, timeline, drillOptions(run, notes, hooks))));
  } catch (error) {
    if (!hooks.signal?.aborted) throw error;
  } finally {
    await unwind(run);
  }
  const aborted = hooks.signal?.aborted === true && rounds.length < options.rounds;
  return demoResult({ options, aborted, instances: launched, rounds, ...record, ...notes });
}

/** The observers' description before the observers exist (a run that could not start them). */
function notStarted(run: DemoRun): DemoResult['observers'] {
  const { observers, selfCheck } = run.options;
  return { count: observers, quorum: Math.min(2, observers), names: [], cut: [], selfCheck, note: '' };
}

/**
 * Cuts off the first `partition` observers (one at least for an observer failure), and says so.
 * A partition cuts an observer off from a group it has seen answer: each waits for one passed
 * check first (at most 10 s), or it would count the group as one it never reached (observer-blind).
 */
async function cutObservers(run: DemoRun, healing: { cut: Set<string>; observers: DemoResult['observers']; probers: readonly Prober[] }): Promise<void> {
  const { options } = run;
  const cutCount = isObserverFailure(options.failure) ? Math.max(1, options.partition) : options.partition;
  const names = healing.observers.names.slice(0, cutCount);
  const seen = healing.probers.filter((p) => names.includes(p.options.observer) && !healing.cut.has(p.options.observer)).map(seenAnswer);
  // Bounded, and the bound never outlives the wait: a timer left running would hold the exit.
  const bound = new AbortController();
  run.signal?.addEventListener('abort', () => bound.abort(), { once: true });
  await Promise.race([Promise.all(seen).finally(() => bound.abort()), abortableDelay(10_000, bound.signal)]);
  for (const name of names) healing.cut.add(name);
  if (healing.cut.size === 0) return;
  healing.observers.cut = [...healing.cut];
  healing.observers.cutMethod = cutMethod;
  run.logger.warn({ cut: [...healing.cut], cutMethod }, 'demo: observer(s) cut off from the group');
}

/** Resolves once the prober has seen a check pass: it knows the group answers it. */
function seenAnswer(prober: Prober): Promise<void> {
  return new Promise((resolve) => {
    const off = prober.events.on('prober:check:succeeded', () => {
      off();
      resolve();
    });
  });
}

function drillOptions(run: DemoRun, notes: { failed: Set<string> }, hooks: DemoHooks): Parameters<typeof runDrill>[2] {
  const { options, logger } = run;
  const failure = options.failure as Exclude<typeof options.failure, 'observer-partition' | 'observer-blind'>;
  return {
    rounds: options.rounds,
    failure,
    onInjected: (ids) => ids.forEach((id) => notes.failed.add(id)),
    ...(options.mass !== undefined ? { mass: options.mass } : {}),
    ...(options.zone !== undefined ? { zone: options.zone } : {}),
    roundTimeoutMs: options.roundTimeoutMs,
    settleTimeoutMs: 30_000,
    ...(run.signal ? { signal: run.signal } : {}),
    onRoundStart: (round, injections) => {
      logger.info({ round, injected: injections.map((i) => i.instanceId) }, 'demo: round started');
      hooks.onRoundStart?.(round, injections);
    },
    ...(hooks.onRoundEnd ? { onRoundEnd: hooks.onRoundEnd } : {}),
  };
}
