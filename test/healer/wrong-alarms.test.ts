/**
 * Holds that hold, over hours: a group of 10 whose every alarm is wrongly in ALARM (a threshold of
 * 0 on a healthy fleet), simulated for 3 hours with the real healer, the scheduled run every 10
 * minutes, and each marked instance replaced — by a replacement whose alarm goes wrong too.
 * It must lose at most one budget before a person is needed. The same simulation with the freeze
 * lapsing (the old rails) lost 20–28 instances (issue 17); bench/rails.ts prints the figures.
 */
import { describe, expect, it } from 'vitest';
import { jsonCheckedLedger } from '../helpers/json-ledger.js';
import { SimulatedGroup, simulationStartMs } from '../helpers/simulated-group.js';

const hours = (h: number) => simulationStartMs + h * 3_600_000;

describe('3 hours of alarms wrongly in ALARM', () => {
  it.each([
    { name: 'the scheduled run 5 minutes after the start', scheduleOffsetMs: 300_000 },
    { name: 'the scheduled run just after each freeze lifts', scheduleOffsetMs: 605_000 },
    { name: 'the scheduled run just before each freeze lifts', scheduleOffsetMs: 595_000 },
  ])('a group of 10 loses at most one budget (4), then holds until a person resumes it ($name)', async ({ scheduleOffsetMs }) => {
    // Prepare
    const ledger = jsonCheckedLedger();
    const sim = new SimulatedGroup({ size: 10, alarmWrong: true, scheduleOffsetMs, ledger });
    const held: string[] = [];
    sim.healer.events.on('healer:hold:started', (e) => held.push(e.hold.reason));

    // Act
    await sim.run(hours(3));

    // Assess
    expect(sim.marks.length).toBeLessThanOrEqual(4);
    expect(ledger.writes).toBeGreaterThan(0);
    const group = (await sim.fleet.describeGroups(['workers']))[0];
    const rails = await sim.healer.railsOf(group!);
    expect(rails.hold?.reason).toMatch(/^frozen/);
    expect(held[0]).toBe('frozen');
    // The last decisions name the hold a person must lift (or the freeze still in force).
    expect(new Set(sim.records.slice(-10).map((r) => r.verdict.reason))).not.toContain('unhealthy');
  });
});
