/**
 * The rails over simulated hours, through the real healer and its clock seam (the simulated group
 * of test/helpers/simulated-group.ts: alarms, the scheduled run every 10 min, replacements that
 * terminate in 20 s and serve 90 s after launch). Simulated time, so the figures are minutes of
 * the model, not of a machine: they compare rails, not hosts.
 *
 * 1. Alarms wrongly in ALARM for 3 hours on a group of 10 (a threshold of 0): instances lost, and
 *    when a person is needed; beside it the same group with the scheduled run handing its alarms
 *    over one per call and no escalation — the order the rails had before (issue 17: 20–28 lost).
 * 2. Mass failures, alarm path: minutes from the failure until every failed instance's
 *    replacement serves, for a group without zones and for groups over three zones.
 *
 *   npx tsx bench/rails.ts
 */
import { SimulatedGroup, simulationStartMs, type SimulatedGroupOptions } from '../test/helpers/simulated-group.js';

const minutes = (ms: number): string => `${(ms / 60_000).toFixed(1)} min`;

async function wrongAlarms(options: Partial<SimulatedGroupOptions>): Promise<{ lost: number; heldFrom: string }> {
  const sim = new SimulatedGroup({ size: 10, alarmWrong: true, ...options });
  let heldFrom = 'never';
  sim.healer.events.on('healer:hold:started', (e) => {
    if (e.hold.reason === 'frozenUntilResume') heldFrom = minutes(sim.nowMs - simulationStartMs);
  });
  await sim.run(simulationStartMs + 3 * 3_600_000);
  return { lost: sim.marks.length, heldFrom };
}

async function massFailure(name: string, options: Partial<SimulatedGroupOptions>, pick: (live: string[]) => string[]): Promise<void> {
  const sim = new SimulatedGroup({ size: 10, ...options });
  const failing = pick(sim.live());
  sim.fail(failing, simulationStartMs);
  await sim.run(simulationStartMs + 3_600_000);
  const done = failing.map((id) => sim.served.find((s) => s.replaced === id)?.atMs);
  const healed = done.every((t) => t !== undefined) ? minutes(Math.max(...(done as number[])) - simulationStartMs) : `not all within 60 min (${done.filter((t) => t !== undefined).length} of ${failing.length})`;
  const frozen = sim.records.some((r) => r.verdict.reason === 'frozen');
  console.log(`  ${name.padEnd(58)} healed in ${healed}${frozen ? ' (froze first)' : ''}`);
}

console.log('1. alarms wrongly in ALARM for 3 h, group of 10 (budget 4)');
for (const offset of [300_000, 595_000, 605_000]) {
  const now = await wrongAlarms({ scheduleOffsetMs: offset });
  const before = await wrongAlarms({ scheduleOffsetMs: offset, scheduledOneByOne: true, policy: { escalateAfterFreezes: 1_000_000 } });
  console.log(
    `  first scheduled run at ${minutes(offset).padEnd(9)} lost ${now.lost}, held for a person from ${now.heldFrom}; ` +
      `one alarm per call and no escalation: lost ${before.lost}`,
  );
}

console.log('2. mass failure of a group of 10, alarm path (detection 2.5 min)');
const zones = ['a', 'b', 'c'];
const zoneOf = (k: number) => zones[k % 3];
await massFailure('8 of 10, no zones', {}, (live) => live.slice(0, 8));
await massFailure('8 of 10 over three zones (a 3/4, b 3/3, c 2/3)', { zones }, (live) => live.slice(0, 8));
await massFailure('one whole zone of three (a 4/4)', { zones }, (live) => live.filter((_, k) => zoneOf(k) === 'a'));
await massFailure('two whole zones of three (a 4/4, b 3/3): most zones look down', { zones }, (live) => live.filter((_, k) => zoneOf(k) !== 'c'));
