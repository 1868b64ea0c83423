import { afterEach, describe, expect, it } from 'vitest';
import { followGroup, runDrill } from '../../src/drill/drill.js';
import { failureModes } from '../../src/drill/inject.js';
import { Timeline } from '../../src/drill/timeline.js';
import { LocalGroup } from '../../src/fleet/local/local-group.js';
import { createHealer } from '../../src/healer/healer.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { startProber, type Prober } from '../../src/prober/prober.js';
import { healerSink } from '../../src/prober/sinks.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A local group probed and healed in-process, through the healer directly. */
function chain(desiredCapacity: number, maxUnhealthyShare = 0.4): { group: LocalGroup; prober: Prober; timeline: Timeline } {
  // The group's own exit check is slow (as EC2's is), so the prober is what heals a crash.
  const group = new LocalGroup({ desiredCapacity, exitNoticeDelayMs: 60_000, stopTimeoutMs: 500 });
  // One prober here: its verdicts mark alone (quorum 1).
  const healer = createHealer({ fleet: group, policy: policyOptionsSchema.parse({ maxUnhealthyShare, probeQuorum: 1 }) });
  const prober = startProber(
    // The observer's self-check has tests of its own; here a group of two on a loaded machine must not
    // read one slow healthy answer beside the failed one as the observer being cut off.
    { intervalMs: 100, timeoutMs: 80, unhealthyThreshold: 2, healthyThreshold: 1, repeatUnhealthyAfterMs: 300, maxLatenessMs: 3_600_000, cutOffMinTargets: 1_000_000 },
    { sink: healerSink(healer) },
  );
  const unfollow = followGroup(group, prober);
  const timeline = new Timeline({ group, prober, healer });
  cleanups.push(() => group.stop(), () => prober.stop(), unfollow, () => timeline.dispose());
  group.start();
  return { group, prober, timeline };
}

describe('drill through the healer, with real processes', () => {
  it.each(failureModes)('heals a %s instance: probe, mark, terminate, replacement InService', async (failure) => {
    // Prepare
    const { group, timeline } = chain(2);

    // Act
    const [round] = await runDrill(group, timeline, { rounds: 1, failure, roundTimeoutMs: 20_000, settleTimeoutMs: 20_000 });

    // Assess
    expect(round?.healed).toBe(true);
    const victim = round?.victims[0];
    expect(victim?.markedBy).toBe('healer');
    for (const stage of ['injected', 'probeFailing', 'alarmPublished', 'marked', 'terminating', 'replacementInService'] as const) {
      expect(victim?.stagesMs[stage], stage).toBeTypeOf('number');
    }
    expect(group.instance(victim?.replacementId ?? '')?.lifecycleState).toBe('InService');
  });

  it('marks only the unhealthy budget of a mass failure at a time, and heals the rest in waves', async () => {
    // Prepare: budget = floor(0.4 × 5) = 2; 4 of 5 frozen.
    const { group, timeline } = chain(5, 0.4);
    let markedNotGone = 0;
    let most = 0;
    group.events.on('group:instance:marked', (e) => {
      if (e.by !== 'fleet') return;
      markedNotGone++;
      most = Math.max(most, markedNotGone);
    });
    group.events.on('group:instance:terminated', (e) => {
      if (timeline.result().victims.some((v) => v.instanceId === e.instanceId)) markedNotGone = Math.max(0, markedNotGone - 1);
    });

    // Act
    const [round] = await runDrill(group, timeline, {
      rounds: 1,
      failure: 'freeze',
      mass: 0.8,
      roundTimeoutMs: 30_000,
      settleTimeoutMs: 20_000,
    });

    // Assess
    expect(round?.victims).toHaveLength(4);
    expect(round?.healed).toBe(true);
    expect(most).toBeLessThanOrEqual(2);
    const skipped = round?.victims.flatMap((v) => v.skipped.map((s) => s.reason)) ?? [];
    expect(skipped).toContain('budgetSpent');
  });
});
