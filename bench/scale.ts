/**
 * The healer at account scale (issue 20): the real healer code and ledger port, behind the
 * deployment's intake (an SQS verdict queue, batches of 10, MaximumConcurrency 5), against a
 * simulated account with AWS's latencies and rate limits, in virtual time (bench/sim/: the
 * figures and where they come from).
 *
 * The fleet: groups of 20 instances, each group in one of three zones, watched by three
 * observers (one per zone). The scenario: zone a goes down (its observer with it), and at the
 * same time, and every 3 s after it for a minute, one instance of another group in zone b or c
 * fails: 20 single failures of unaffected groups. Their time from failure to mark, p95, is
 * compared with the same 20 failures alone (no outage), side by side in the same run.
 *
 * The last line: `scale: unaffected group marked p95 X ms during the outage vs Y ms alone (R x);
 * API calls/min A of limit L; lost N` — the goal is R <= 1.5, N = 0 and A within L. Lost: the
 * single failures not marked within 5 minutes, and verdict messages dead-lettered.
 *
 *   npx tsx bench/scale.ts [instances…]      (default: 100 1000 10000)
 */
import { performance } from 'node:perf_hooks';
import { createHealer } from '../src/healer/healer.js';
import { memoryLedger } from '../src/healer/ledger.js';
import { policyOptionsSchema } from '../src/policy/options.js';
import { AwsFleet } from '../src/fleet/aws/fleet.js';
import { seeded, SimulatedAccount, SimulatedApi, slowLedger, VirtualTime } from './sim/account.js';
import { intake, startObserver, VerdictQueue } from './sim/intake.js';

const zones = ['a', 'b', 'c'] as const;
const groupSize = 20;
const singles = 20;
const horizonMs = 300_000;

interface Outcome {
  p95Ms: number;
  lost: number;
  api: { api: string; calls: number; limit: number };
  invocations: number;
  throttled: number;
  markedInZoneA: number;
  ledger: { reads: number; writes: number };
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? Number.NaN;
}

async function scenario(instances: number, outage: boolean): Promise<Outcome> {
  const time = new VirtualTime();
  const random = seeded(20);
  const api = new SimulatedApi(time, random);
  const account = new SimulatedAccount(time, api);
  const fleet = new AwsFleet(account.autoScaling(), { instanceFacts: account.instanceFacts });
  const groups = Math.max(3, Math.round(instances / groupSize));
  const idsOf = new Map<string, { zone: string; ids: string[] }>();
  for (let g = 0; g < groups; g++) {
    const zone = zones[g % 3] as string;
    idsOf.set(`workers-${g}`, { zone, ids: account.addGroup(`workers-${g}`, zone, groupSize) });
  }
  const ledger = slowLedger(memoryLedger(), time);
  const policy = policyOptionsSchema.parse({});
  const healers = Array.from({ length: intake.maxConcurrency }, () => createHealer({ fleet, policy, ledger, clock: () => time.nowMs }));
  const queue = new VerdictQueue(time, healers);
  const zoneDown = () => outage;
  for (const [k, zone] of zones.entries()) startObserver(time, account, queue, `observer-${zone}`, Math.floor(random() * 2_000) + k, () => !(zone === 'a' && zoneDown()));

  // The outage, then one failure of another group every 3 s, in zones b and c.
  const startMs = 10_000;
  if (outage) {
    time.at(startMs, () => {
      for (const { zone, ids } of idsOf.values()) if (zone === 'a') for (const id of ids) (account.instances.get(id) as { up: boolean }).up = false;
    });
  }
  const others = [...idsOf.values()].filter((g) => g.zone !== 'a');
  const failedAt = new Map<string, number>();
  for (let n = 0; n < singles; n++) {
    const group = others[n % others.length] as { ids: string[] };
    const id = group.ids[Math.floor(n / others.length)] as string;
    const atMs = startMs + n * 3_000;
    failedAt.set(id, atMs);
    time.at(atMs, () => ((account.instances.get(id) as { up: boolean }).up = false));
  }

  await time.run(startMs + horizonMs);
  const delays = [...failedAt].map(([id, atMs]) => (account.markedAt.get(id) ?? Number.POSITIVE_INFINITY) - atMs);
  const zoneA = [...idsOf.values()].filter((g) => g.zone === 'a').flatMap((g) => g.ids);
  return {
    p95Ms: p95(delays),
    lost: delays.filter((d) => !Number.isFinite(d)).length + queue.deadLettered,
    api: api.busiest(),
    invocations: queue.invocations,
    throttled: api.throttled,
    markedInZoneA: zoneA.filter((id) => account.markedAt.has(id)).length,
    ledger: { reads: ledger.reads, writes: ledger.writes },
  };
}

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
for (const instances of sizes.length > 0 ? sizes : [100, 1_000, 10_000]) {
  const began = performance.now();
  const alone = await scenario(instances, false);
  const during = await scenario(instances, true);
  const ratio = during.p95Ms / alone.p95Ms;
  console.log(
    `  ${instances} instances (${Math.round(instances / 3)} in zone a): ${during.invocations} healer invocations, ${during.throttled} throttled calls, ` +
      `${during.markedInZoneA} of zone a marked (its groups look wholly down: frozen); ledger ${during.ledger.reads} reads, ${during.ledger.writes} writes in ${horizonMs / 60_000} min; ` +
      `${((performance.now() - began) / 1000).toFixed(1)} s of this machine`,
  );
  console.log(
    `scale: unaffected group marked p95 ${Number.isFinite(during.p95Ms) ? Math.round(during.p95Ms) : 'never'} ms during the outage vs ${Math.round(alone.p95Ms)} ms alone ` +
      `(${Number.isFinite(ratio) ? ratio.toFixed(2) : '∞'} x); API calls/min ${during.api.calls} of limit ${during.api.limit} (${during.api.api}); lost ${during.lost}`,
  );
}
