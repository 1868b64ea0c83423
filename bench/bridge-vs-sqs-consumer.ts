/**
 * The bridge against bbc/sqs-consumer 14.x (what the original sqs-to-lambda was built on), on one
 * fauxqs in the same run: same fresh queue per run, same message count, same in-process handler,
 * same concurrency and batch size, runs alternating (bridge, consumer, bridge, …).
 *
 * fauxqs runs in a child process, as SQS is remote: the consumers' own CPU cost stays theirs.
 *
 * The handler stands for the healer's work: parseEvent of the body (a CloudWatch alarm message as
 * SNS delivers it), then an async delay standing for the SetInstanceHealth call: 5 ms, and 50 ms
 * for one message in 20 (API calls have a tail). The delay is fixed per message, so both sides do
 * exactly the same work.
 *
 * Two phases per run, each on a fresh queue:
 *   - backlog: `messages` are on the queue before the consumer starts; throughput = messages /
 *     time to handle them all (messages/s);
 *   - steady: the consumer is running and idle (long polling); `messages` are sent at a fixed
 *     rate (70% of sqs-consumer's backlog throughput: loaded, but neither side saturated); latency =
 *     from just before SendMessageBatch to the handler's end, p50 and p99; and from the send to
 *     the handler's start (the consumer's own share: receive path and waiting for a slot).
 *
 * Equal concurrency: sqs-consumer handles one receive batch at a time, so its concurrency is its
 * batch size (10); the bridge gets concurrency 10 and batch size 10.
 *
 *   npx tsx bench/bridge-vs-sqs-consumer.ts [messages] [runs per side]   (default 2000, 2)
 *   npm run bench bridge-vs-sqs-consumer
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';
import { handlerTarget, startBridge } from '../src/bridge/index.js';
import { percentile } from '../src/drill/stats.js';
import { parseEvent } from '../src/signals/index.js';
import { statusCheckAlarmMessage } from '../test/helpers/events.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const messages = Math.max(100, Number(process.argv[2] ?? 2000));
const runsPerSide = Math.max(1, Number(process.argv[3] ?? 2));
/** The steady phase's offered load, as a share of sqs-consumer's backlog throughput. */
const loadShare = 0.7;
const concurrency = 10;
const batchSize = 10;
const waitSeconds = 20;
const fastMs = 5;
const slowMs = 50;
const slowEvery = 20;
const region = 'us-east-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const root = fileURLToPath(new URL('../', import.meta.url));

type Side = 'bridge' | 'sqs-consumer';

/** SQS calls per command name, per side (what a side costs in requests). */
const calls: Record<Side, Record<string, number>> = { bridge: {}, 'sqs-consumer': {} };

/** This process's CPU time while a side ran (its consumer, the handler and, in the steady phase, the producer). */
const cpuMs: Record<Side, number> = { bridge: 0, 'sqs-consumer': 0 };

/** An SQS client for `side` that counts its calls. */
function client(side: Side | undefined, endpoint: string): SQSClient {
  const sqs = new SQSClient({ region, endpoint, credentials, useQueueUrlAsEndpoint: false });
  if (side) {
    sqs.middlewareStack.add(
      (next, context) => (args) => {
        const name = context.commandName ?? 'unknown';
        calls[side][name] = (calls[side][name] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize' },
    );
  }
  return sqs;
}

/**
 * Whether message n is one of the slow ones: one in `slowEvery`, at scattered but fixed places (a
 * multiplicative hash; n mod 20 would always put the slow message at the same place in a batch
 * of 10, and the last place is where a consumer that receives only what it has room for is late).
 */
function isSlow(n: number): boolean {
  let x = Math.imul(n + 1, 0x9e3779b1);
  x ^= x >>> 16;
  return (x >>> 0) % slowEvery === 0;
}

/** Message n's body: an alarm for instance n, as SNS delivers it to a queue. */
function body(n: number): string {
  const instanceId = `i-${n.toString(16).padStart(17, '0')}`;
  const alarm = statusCheckAlarmMessage(instanceId, { region: 'US East (N. Virginia)' });
  return JSON.stringify({ Type: 'Notification', MessageId: `m-${n}`, TopicArn: `arn:aws:sns:${region}:123456789012:alarms`, Message: alarm });
}

/** Starts fauxqs in a child process; resolves with its endpoint. */
async function startFauxqsProcess(): Promise<{ endpoint: string; child: ChildProcess }> {
  const script =
    "import { startFauxqs } from 'fauxqs';" +
    "const s = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false, defaultRegion: 'us-east-1' });" +
    'console.log(JSON.stringify({ port: s.port }));';
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n')[0] ?? '';
      if (text.includes('\n')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`fauxqs exited (${code})`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, child };
}

interface Probe {
  sentAt: Map<number, number>;
  /** From send to the handler's start: the receive path alone. */
  waits: number[];
  latencies: number[];
  handled: number;
  firstHandledAt: number;
  lastHandledAt: number;
  done: Promise<void>;
}

/** The handler both sides run; `probe` records when each message was handled. */
function makeHandler(probe: Omit<Probe, 'done'>, onAll: () => void): (text: string) => Promise<void> {
  return async (text) => {
    const startedAt = performance.now();
    const signal = parseEvent(text).signals[0];
    if (!signal) throw new Error('benchmark message without a signal');
    const n = Number.parseInt(signal.instanceId.slice(2), 16);
    const sentAt = probe.sentAt.get(n);
    if (sentAt !== undefined) probe.waits.push(startedAt - sentAt);
    await new Promise((resolve) => setTimeout(resolve, isSlow(n) ? slowMs : fastMs));
    const now = performance.now();
    const sent = probe.sentAt.get(n);
    if (sent !== undefined) probe.latencies.push(now - sent);
    if (probe.handled === 0) probe.firstHandledAt = now;
    probe.lastHandledAt = now;
    if (++probe.handled === messages) onAll();
  };
}

function newProbe(): Probe & { handler: (text: string) => Promise<void> } {
  let resolveAll!: () => void;
  const probe = {
    sentAt: new Map<number, number>(),
    latencies: [] as number[],
    waits: [] as number[],
    handled: 0,
    firstHandledAt: 0,
    lastHandledAt: 0,
    done: new Promise<void>((resolve) => (resolveAll = resolve)),
  };
  return Object.assign(probe, { handler: makeHandler(probe, () => resolveAll()) });
}

/** Starts one side on `queueUrl` with `handler`; resolves with its stop function. */
async function startSide(side: Side, sqs: SQSClient, queueUrl: string, handler: (text: string) => Promise<void>): Promise<() => Promise<void>> {
  if (side === 'bridge') {
    const bridge = await startBridge({
      queueUrl,
      sqs,
      concurrency,
      batchSize,
      waitSeconds,
      target: handlerTarget((m) => handler(m.body)),
    });
    return async () => void (await bridge.stop());
  }
  const consumer = Consumer.create({
    queueUrl,
    sqs,
    batchSize,
    waitTimeSeconds: waitSeconds,
    handleMessage: async (m) => {
      await handler(m.Body ?? '');
      return m;
    },
  });
  let stopping = false;
  // Stopping with abort cancels the idle long poll: that error is expected, any other is not.
  const report = (error: Error): void => void (stopping || console.error(`sqs-consumer: ${error.message}`));
  consumer.on('error', report);
  consumer.on('processing_error', report);
  consumer.start();
  return async () => {
    stopping = true;
    const stopped = new Promise<void>((resolve) => consumer.once('stopped', () => resolve()));
    consumer.stop({ abort: true });
    await stopped;
  };
}

async function sendAll(sqs: SQSClient, queueUrl: string, from: number, to: number, sentAt?: Map<number, number>): Promise<void> {
  const entries = Array.from({ length: to - from }, (_, i) => ({ Id: `m${from + i}`, MessageBody: body(from + i) }));
  const now = performance.now();
  if (sentAt) for (let n = from; n < to; n++) sentAt.set(n, now);
  const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  if (out.Failed?.length) throw new Error(`SendMessageBatch failed: ${out.Failed.map((f) => f.Message).join(', ')}`);
}

let queueCount = 0;
async function freshQueue(sqs: SQSClient): Promise<string> {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: `bench-${queueCount++}`, Attributes: { VisibilityTimeout: '30' } }));
  if (!out.QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return out.QueueUrl;
}

/** Waits until the queue holds nothing, visible or in flight (every handled message deleted). */
async function drained(sqs: SQSClient, queueUrl: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const out = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    const left = Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    if (left === 0) return;
    if (performance.now() > deadline) throw new Error(`${left} messages still on the queue after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One phase on a fresh queue: `load` sends the messages (before or after the side starts). */
async function phase(side: Side, endpoint: string, load: (producer: SQSClient, queueUrl: string, probe: Probe) => Promise<void>, preload: boolean): Promise<Probe & { startedAt: number }> {
  const producer = client(undefined, endpoint);
  const sqs = client(side, endpoint);
  const queueUrl = await freshQueue(producer);
  const probe = newProbe();
  if (preload) await load(producer, queueUrl, probe);
  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  const stop = await startSide(side, sqs, queueUrl, probe.handler);
  if (!preload) {
    // Let the consumer reach its first long poll.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await load(producer, queueUrl, probe);
  }
  await probe.done;
  const cpu = process.cpuUsage(cpuBefore);
  cpuMs[side] += (cpu.user + cpu.system) / 1000;
  await drained(producer, queueUrl);
  await stop();
  await producer.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  producer.destroy();
  sqs.destroy();
  return { ...probe, startedAt };
}

/** Backlog phase: messages/s handling a full queue. */
async function backlog(side: Side, endpoint: string): Promise<number> {
  const probe = await phase(
    side,
    endpoint,
    async (producer, queueUrl) => {
      const sends: Promise<void>[] = [];
      for (let from = 0; from < messages; from += 10) sends.push(sendAll(producer, queueUrl, from, Math.min(messages, from + 10)));
      await Promise.all(sends);
    },
    true,
  );
  return messages / ((probe.lastHandledAt - probe.startedAt) / 1000);
}

/** Steady phase: publish-to-handled latencies at `ratePerSecond`. */
async function steady(side: Side, endpoint: string, ratePerSecond: number): Promise<{ latencies: number[]; waits: number[] }> {
  const probe = await phase(
    side,
    endpoint,
    async (producer, queueUrl, p) => {
      const tickMs = (10 / ratePerSecond) * 1000;
      const begin = performance.now();
      const sends: Promise<void>[] = [];
      for (let from = 0, tick = 0; from < messages; from += 10, tick++) {
        const wait = begin + tick * tickMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        sends.push(sendAll(producer, queueUrl, from, Math.min(messages, from + 10), p.sentAt));
      }
      await Promise.all(sends);
    },
    false,
  );
  return { latencies: probe.latencies, waits: probe.waits };
}

const median = (values: number[]): number => percentile(values, 50);
const fmt = (x: number, digits = 1): string => x.toFixed(digits);

const { endpoint, child } = await startFauxqsProcess();
try {
  console.log(
    `bridge vs sqs-consumer@14: ${messages} messages per run, ${runsPerSide} runs per side alternating, concurrency ${concurrency}, ` +
      `batch size ${batchSize}, handler parseEvent + ${fastMs} ms (${slowMs} ms for 1 in ${slowEvery}), fauxqs in a child process`,
  );
  // Warm-up (JIT, sockets), not counted.
  for (const side of ['bridge', 'sqs-consumer'] as const) await backlog(side, endpoint);
  for (const side of ['bridge', 'sqs-consumer'] as const) {
    calls[side] = {};
    cpuMs[side] = 0;
  }

  const throughput: Record<Side, number[]> = { bridge: [], 'sqs-consumer': [] };
  for (let run = 0; run < runsPerSide; run++) {
    for (const side of run % 2 === 0 ? (['bridge', 'sqs-consumer'] as const) : (['sqs-consumer', 'bridge'] as const)) {
      throughput[side].push(await backlog(side, endpoint));
    }
  }
  const rate = Math.max(100, Math.round((median(throughput['sqs-consumer']) * loadShare) / 10) * 10);
  const latency: Record<Side, number[]> = { bridge: [], 'sqs-consumer': [] };
  const p99s: Record<Side, number[]> = { bridge: [], 'sqs-consumer': [] };
  const waits: Record<Side, number[]> = { bridge: [], 'sqs-consumer': [] };
  for (let run = 0; run < runsPerSide; run++) {
    for (const side of run % 2 === 0 ? (['bridge', 'sqs-consumer'] as const) : (['sqs-consumer', 'bridge'] as const)) {
      const result = await steady(side, endpoint, rate);
      latency[side].push(...result.latencies);
      waits[side].push(...result.waits);
      p99s[side].push(percentile(result.latencies, 99));
    }
  }

  const row = (side: Side): string => {
    const t = median(throughput[side]);
    const p50 = percentile(latency[side], 50);
    const p99 = percentile(latency[side], 99);
    return `${side.padEnd(13)} throughput ${fmt(t, 0).padStart(5)} msg/s (runs: ${throughput[side].map((x) => fmt(x, 0)).join(', ')})   latency at ${rate} msg/s p50 ${fmt(p50).padStart(6)} ms  p99 ${fmt(p99).padStart(6)} ms (per-run p99: ${p99s[side].map((x) => fmt(x)).join(', ')})`;
  };
  console.log(row('bridge'));
  console.log(row('sqs-consumer'));
  const ratio = (f: (side: Side) => number): string => fmt(f('bridge') / f('sqs-consumer'), 2);
  const handled = messages * runsPerSide * 2;
  for (const side of ['bridge', 'sqs-consumer'] as const) {
    const perMessage = Object.entries(calls[side])
      .filter(([name]) => name !== 'GetQueueAttributesCommand')
      .map(([name, count]) => `${name.replace(/Command$/, '')} ${fmt(count / handled, 2)}`)
      .join(', ');
    console.log(`${side.padEnd(13)} send to handler start p50 ${fmt(percentile(waits[side], 50))} ms, p99 ${fmt(percentile(waits[side], 99))} ms`);
    console.log(`${side.padEnd(13)} SQS calls per message: ${perMessage}; CPU ${fmt((cpuMs[side] / handled) * 1000, 0)} µs per message`);
  }
  console.log(
    `ratios bridge/sqs-consumer: throughput ${ratio((s) => median(throughput[s]))}x (goal >= 1), ` +
      `p50 ${ratio((s) => percentile(latency[s], 50))}x, p99 ${ratio((s) => percentile(latency[s], 99))}x (goal < 1)`,
  );
} finally {
  child.kill('SIGTERM');
}
