/**
 * The rails as the healer keeps them, with real concurrency: many callers at once in one process,
 * a fleet whose calls take time (so decisions really interleave), a clock the test moves.
 */
import { describe, expect, it } from 'vitest';
import { toRemoteError } from '../../src/errors.js';
import type { FleetPort } from '../../src/fleet/port.js';
import { createHealer } from '../../src/healer/healer.js';
import type { HealerOptions } from '../../src/healer/types.js';
import { policyOptionsSchema, type PolicyOptionsInput } from '../../src/policy/options.js';
import { alarmSignal as alarm, probeVerdict as probe } from '../helpers/events.js';
import { MemoryFleet } from '../helpers/memory-fleet.js';

const t0 = Date.parse('2024-05-01T12:00:00Z');
const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i + 1).padStart(17, '0')}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fleet whose every call takes a few milliseconds, as a real API does: concurrent callers interleave. */
function slow(fleet: MemoryFleet): FleetPort {
  return {
    describeInstances: async (i) => (await sleep(3), fleet.describeInstances(i)),
    describeGroups: async (n) => (await sleep(3), fleet.describeGroups(n)),
    setInstanceHealth: async (i, st, o) => (await sleep(5), fleet.setInstanceHealth(i, st, o)),
  };
}



function healer(fleet: FleetPort, policy: PolicyOptionsInput = {}, clock = () => t0, extra: Partial<HealerOptions> = {}) {
  return createHealer({ fleet, policy: policyOptionsSchema.parse(policy), clock, ...extra });
}

describe('the healer keeps the rails', () => {
  it('8 alarms for 8 of 10 instances from 8 concurrent callers: exactly the budget (4) is marked', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    const h = healer(slow(fleet));

    // Act: each call reads its views before any mark lands; only the healer's lock can keep the budget.
    const reports = await Promise.all(ids(8).map((id) => h.handle(JSON.stringify({ ...alarmMessage(id) }))));

    // Assess
    expect(fleet.setHealthCalls).toHaveLength(4);
    expect(reports.flatMap((r) => r.verdicts.map((v) => v.verdict.reason)).sort()).toEqual([
      ...Array(4).fill('budgetSpent'),
      ...Array(4).fill('unhealthy'),
    ]);
  });

  it('an observer cut off from a healthy group (quorum 1) marks the budget once, then the group freezes', async () => {
    // Prepare: the observer reports all 10 down at once, and again and again.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    let now = t0;
    const h = healer(slow(fleet), { probeQuorum: 1 }, () => now);
    const held: string[] = [];
    h.events.on('healer:hold:started', (e) => held.push(e.hold.reason));

    // Act: three rounds 1 s apart, every instance at once; between rounds the group "replaces" the marked.
    for (let round = 0; round < 3; round++) {
      await Promise.all(ids(10).map((id) => h.handleSignals([probe(id, 'cut-off', now)])));
      now += 1_000;
    }

    // Assess
    expect(fleet.setHealthCalls).toHaveLength(4);
    expect(held).toEqual(['frozen']);
    const last = await h.handleSignals([probe(ids(10)[9] as string, 'cut-off', now)]);
    expect(last[0]?.verdict).toMatchObject({ action: 'skip', reason: 'frozen' });
    expect(last[0]?.verdict.detail).toMatch(/reported down within 120 s/);
  });

  it('one observer alone never marks; a second one agreeing does; a healthy verdict withdraws a vote', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(5) }]);
    const h = healer(fleet);
    const [a, b] = ids(2) as [string, string];

    // Act
    const alone = await h.handleSignals([probe(a, 'obs-1', t0)]);
    const agreed = await h.handleSignals([probe(a, 'obs-2', t0)]);
    await h.handleSignals([probe(b, 'obs-1', t0), probe(b, 'obs-1', t0, true)]);
    const withdrawn = await h.handleSignals([probe(b, 'obs-2', t0)]);

    // Assess
    expect(alone[0]?.verdict).toMatchObject({ action: 'skip', reason: 'awaitingQuorum' });
    expect(agreed[0]?.verdict).toMatchObject({ action: 'mark', reason: 'unhealthy' });
    expect(withdrawn[0]?.verdict).toMatchObject({ action: 'skip', reason: 'awaitingQuorum', detail: expect.stringMatching(/^1 of 2/) });
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual([a]);
  });

  it('a late probe verdict is not re-checked against an alarm: outside the quorum window it is no vote (voteExpired)', async () => {
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(5) }]);
    const alarms = { alarmState: async () => { throw new Error('a probe verdict must never be re-checked in CloudWatch'); } };
    const h = healer(fleet, {}, () => t0, { alarms });
    const [a] = ids(1) as [string];
    const records = await h.handleSignals([probe(a, 'obs-1', t0 - 300_000), probe(a, 'obs-2', t0 - 300_000)]);
    expect(records.map((r) => r.verdict.reason)).toEqual(['voteExpired', 'voteExpired']);
    expect(records.every((r) => r.error === undefined)).toBe(true);
  });

  it('a backlog never lets a vote expire unseen nor counts one that did: an expired verdict is no vote, a fresh one of another observer still waits', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(5) }]);
    const h = healer(fleet);
    const [a] = ids(1) as [string];

    // Act: obs-1's verdict waited 31 s in a queue; obs-2's is fresh.
    const late = await h.handleSignals([probe(a, 'obs-1', t0 - 31_000)]);
    const fresh = await h.handleSignals([probe(a, 'obs-2', t0)]);

    // Assess
    expect(late[0]?.verdict).toMatchObject({ action: 'skip', reason: 'voteExpired' });
    expect(fresh[0]?.verdict).toMatchObject({ action: 'skip', reason: 'awaitingQuorum', detail: expect.stringMatching(/^1 of 2 .*\(obs-2\)/) });
    expect(fleet.setHealthCalls).toEqual([]);
  });

  it('verdicts handled out of order: an observer\'s older verdict never undoes its newer one', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(5) }]);
    const h = healer(fleet);
    const [a] = ids(1) as [string];

    // Act: obs-1 saw the instance healthy at t0 - 10 s and down at t0 - 5 s; the down verdict is handled first.
    await h.handleSignals([probe(a, 'obs-1', t0 - 5_000)]);
    await h.handleSignals([probe(a, 'obs-1', t0 - 10_000, true)]);
    const agreed = await h.handleSignals([probe(a, 'obs-2', t0)]);

    // Assess
    expect(agreed[0]?.verdict).toMatchObject({ action: 'mark', reason: 'unhealthy' });
  });

  it('the rate limit bounds marks over time, whatever the budget', async () => {
    // Prepare: a group of 10 (budget 4, limit 8 per 10 min) that replaces each marked instance at once.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    let now = t0;
    const h = healer(fleet, {}, () => now);
    const reasons: string[] = [];
    let live = ids(10);

    // Act: one alarm every 30 s for 10 minutes, each about a serving instance.
    for (let k = 0; k < 20; k++) {
      const id = live[0] as string;
      const [r] = await h.handleSignals([alarm(id, now)]);
      reasons.push(r?.verdict.reason ?? '');
      if (r?.verdict.action === 'mark') {
        fleet.removeInstance(id);
        const replacement = `i-r${String(k).padStart(16, '0')}`;
        fleet.addInstance('workers', { instanceId: replacement, launchedAt: new Date(t0 - 86_400_000) });
        live = [...live.slice(1), replacement];
      }
      now += 30_000;
    }

    // Assess
    expect(reasons.filter((r) => r === 'unhealthy')).toHaveLength(8);
    expect(reasons.slice(8)).toEqual(Array(12).fill('rateLimited'));
    // Ten minutes on, the first mark has just left the window.
    expect(await h.railsOf((await fleet.describeGroups(['workers']))[0]!)).toMatchObject({ marksInWindow: 7, budgetInUse: 0 });
  });

  it('the loop breaker holds a group whose replacements keep failing soon after they launch', async () => {
    // Prepare: one old instance marked, then its replacements fail one after another.
    const fleet = new MemoryFleet([{ name: 'workers', instances: [{ instanceId: 'i-old', launchedAt: new Date(t0 - 86_400_000) }, ...ids(9)] }]);
    let now = t0;
    const h = healer(fleet, {}, () => now);
    const reasons: string[] = [];

    // Act
    await h.handleSignals([alarm('i-old', now)]);
    for (let k = 1; k <= 4; k++) {
      now += 120_000;
      const id = `i-new${k}`;
      fleet.addInstance('workers', { instanceId: id, launchedAt: new Date(now - 60_000) });
      const [r] = await h.handleSignals([alarm(id, now)]);
      reasons.push(r?.verdict.reason ?? '');
    }

    // Assess
    expect(reasons).toEqual(['unhealthy', 'unhealthy', 'unhealthy', 'loopBreaker']);
  });

  it('an operator resume (tag) lifts a freeze that began before it', async () => {
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    let now = t0;
    const h = healer(fleet, { probeQuorum: 1 }, () => now);
    for (const id of ids(10)) await h.handleSignals([probe(id, 'o', now)]);
    expect((await h.railsOf((await fleet.describeGroups(['workers']))[0]!)).hold?.reason).toBe('frozen');
    now += 1_000;
    fleet.addGroup({ name: 'workers', instances: [], tags: { 'autoheal:enabled': 'true', 'autoheal:resumed-at': new Date(now).toISOString() } });
    expect((await h.railsOf((await fleet.describeGroups(['workers']))[0]!)).hold).toBeUndefined();
  });
});

/** The alarm JSON for `instanceId`, fresh. */
function alarmMessage(instanceId: string) {
  return {
    AlarmName: `autoheal-status-check-${instanceId}`,
    NewStateValue: 'ALARM',
    NewStateReason: 'Threshold Crossed',
    StateChangeTime: new Date(t0 - 1_000).toISOString(),
    Trigger: { MetricName: 'StatusCheckFailed', Namespace: 'AWS/EC2', Dimensions: [{ name: 'InstanceId', value: instanceId }] },
  };
}

describe('per-record isolation', () => {
  it('a batch describe refused because of one id is retried per instance: only that record fails, the good ones are marked', async () => {
    // Prepare: Auto Scaling refuses a whole DescribeAutoScalingInstances call when one id is invalid.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    const poison = 'i-0000000000000dead';
    const refusing: FleetPort = {
      describeInstances: async (list) => {
        if (list.includes(poison)) {
          const sdkError = Object.assign(new Error(`The instance ID '${poison}' is malformed`), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
          throw toRemoteError('autoscaling:DescribeAutoScalingInstances', sdkError);
        }
        return fleet.describeInstances(list);
      },
      describeGroups: (names) => fleet.describeGroups(names),
      setInstanceHealth: (id, status, options) => fleet.setInstanceHealth(id, status, options),
    };
    const h = healer(refusing);
    const good = ids(3);

    // Act
    const records = await h.handleSignals([alarm(good[0] as string, t0), alarm(poison, t0), alarm(good[1] as string, t0), alarm(good[2] as string, t0)]);

    // Assess
    expect(records.map((r) => [r.signal.instanceId, r.verdict.reason, r.error !== undefined])).toEqual([
      [good[0], 'unhealthy', false],
      [poison, 'unavailable', true],
      [good[1], 'unhealthy', false],
      [good[2], 'unhealthy', false],
    ]);
    expect(records[1]?.retryable).toBe(false);
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual(good);
  });
});
