/**
 * Core throughput: events per second through the whole core (parseEvent, then the healer's
 * views, decide and remedy, with the in-memory fleet of test/helpers) against bare JSON.parse of
 * the same event texts, and parseEvent alone in between. The events are the project's own
 * fixtures (SNS envelope, Lambda SNS and SQS events, SQS ReceiveMessage, EventBridge, the bare
 * alarm message), each about an instance of one group of 200: every decision reads the whole
 * group (budget), so its size counts. Rounds alternate between the three so machine noise hits
 * them alike; medians are compared.
 *
 *   npx tsx bench/core-throughput.ts [events] [rounds] [group size]     (default 6000 events, 5 rounds, 200 instances)
 */
import { readFileSync } from 'node:fs';
import { createHealer } from '../src/healer/healer.js';
import { policyOptionsSchema } from '../src/policy/options.js';
import { parseEvent } from '../src/signals/index.js';
import { MemoryFleet } from '../test/helpers/memory-fleet.js';

const eventCount = Number(process.argv[2] ?? 6000);
const rounds = Number(process.argv[3] ?? 5);
const groupSize = Number(process.argv[4] ?? 200);
const templateId = 'i-0a1b2c3d4e5f60718';
const templates = [
  'sns-message.status-check-alarm.json',
  'sns-envelope.status-check-alarm.json',
  'lambda-sns-event.status-check-alarm.json',
  'lambda-sqs-event.mixed-batch.json',
  'sqs-receive-message.status-check-alarm.json',
  'eventbridge.alarm-state-change.ok.json',
].map((name) => readFileSync(new URL(`../test/fixtures/events/${name}`, import.meta.url), 'utf8'));

const instanceIds = Array.from({ length: groupSize }, (_, i) => `i-0${i.toString(16).padStart(16, '0')}`);
const events = Array.from({ length: eventCount }, (_, i) =>
  (templates[i % templates.length] as string).replaceAll(templateId, instanceIds[i % groupSize] as string),
);
// The fixtures' alarms changed state at 09:15 that day: a minute later the evidence is fresh.
const nowMs = Date.parse('2024-03-14T09:16:00Z');
const policy = policyOptionsSchema.parse({});

let sink = 0;
const ways = {
  'JSON.parse (baseline)': async (): Promise<void> => {
    for (const text of events) sink += (JSON.parse(text) as object) ? 1 : 0;
  },
  parseEvent: async (): Promise<void> => {
    for (const text of events) sink += parseEvent(text).signals.length;
  },
  'parse + decide + mark': async (): Promise<void> => {
    // A fresh fleet and healer per round, so every round sees the same states and budget.
    const fleet = new MemoryFleet([{ name: 'workers', desiredCapacity: groupSize, instances: instanceIds }]);
    const healer = createHealer({ fleet, policy, clock: () => nowMs });
    for (const text of events) sink += (await healer.handle(text)).verdicts.length;
  },
};
type Way = keyof typeof ways;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const names = Object.keys(ways) as Way[];
const ms = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Way, number[]>;
for (const name of names) await ways[name](); // warm-up: JIT and caches for each
for (let r = 0; r < rounds; r++) {
  for (const name of names) {
    const started = performance.now();
    await ways[name]();
    ms[name].push(performance.now() - started);
  }
}

const baseline = median(ms['JSON.parse (baseline)']);
const totalBytes = events.reduce((n, e) => n + e.length, 0);
console.log(
  `core throughput: ${eventCount} events (${(totalBytes / eventCount / 1024).toFixed(1)} KiB on average), median of ${rounds} rounds (node ${process.version})`,
);
console.log(`${''.padEnd(24)} ${'events/s'.padStart(12)} ${'µs/event'.padStart(10)} ${'cost vs JSON.parse'.padStart(20)}`);
for (const name of names) {
  const m = median(ms[name]);
  console.log(
    `${name.padEnd(24)} ${Math.round((eventCount / m) * 1000).toLocaleString('en-US').padStart(12)} ${((m * 1000) / eventCount).toFixed(1).padStart(10)} ${`${(m / baseline).toFixed(1)}x`.padStart(20)}`,
  );
}
if (sink < 0) console.log(sink); // keeps the work observable
