/**
 * The rails with memory, as pure reducers driven by a clock the test holds: rate limit, suspicion
 * (freeze), loop breaker, operator resume, and the probe quorum. No sockets, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import type { GroupView, InstanceView } from '../../src/fleet/port.js';
import { budgetInUse } from '../../src/policy/budget.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { agreeingObservers, recordVote, type Votes } from '../../src/policy/quorum.js';
import { activeHold, emptyLedger, isYoung, markLimit, marksInWindow, recordMark, recordReport, releaseMark, tagUntil, type GroupLedger } from '../../src/policy/rails.js';
import { zonesDownNow } from '../../src/policy/suspicion.js';

const options = policyOptionsSchema.parse({});
const t0 = Date.parse('2024-05-01T12:00:00Z');
const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i + 1).padStart(17, '0')}`);

function groupOf(n: number, zones: string[] = ['az-a']): Pick<GroupView, 'desiredCapacity' | 'instances'> {
  return {
    desiredCapacity: n,
    instances: ids(n).map((instanceId, i): InstanceView => ({
      instanceId,
      groupName: 'g',
      lifecycleState: 'InService',
      healthStatus: 'Healthy',
      availabilityZone: zones[i % zones.length] as string,
    })),
  };
}

/** Reports instances 1..n of the group, one per `stepMs`, and returns the ledger after each. */
function report(n: number, group = groupOf(10), stepMs = 100, from: GroupLedger = emptyLedger, resumedAtMs?: number): GroupLedger[] {
  const seen: GroupLedger[] = [];
  let ledger = from;
  group.instances.slice(0, n).forEach((i, k) => {
    ledger = recordReport(ledger, { instanceId: i.instanceId, atMs: t0 + k * stepMs, ...(i.availabilityZone ? { zone: i.availabilityZone } : {}) }, group, options, resumedAtMs);
    seen.push(ledger);
  });
  return seen;
}

describe('suspicion', () => {
  it.each([
    { reported: 2, of: 2, frozen: false, why: 'a group of two may lose both (fewer than 3 reports never freeze)' },
    { reported: 3, of: 3, frozen: true, why: 'all of a group of three' },
    { reported: 8, of: 10, frozen: false, why: '8 of 10 is not more than 0.8: a real mass failure heals in waves' },
    { reported: 9, of: 10, frozen: true, why: '9 of 10 looks like the observer' },
    { reported: 10, of: 10, frozen: true, why: 'everything down at once' },
  ])('$reported of $of reported down → frozen $frozen ($why)', ({ reported, of, frozen }) => {
    const ledgers = report(reported, groupOf(of));
    expect(activeHold(ledgers.at(-1) as GroupLedger, t0 + 1_000)?.reason).toBe(frozen ? 'frozen' : undefined);
  });

  it('freezes at the first report past the share, not before', () => {
    const ledgers = report(10);
    expect(ledgers.map((l) => activeHold(l, t0 + 1_000)?.reason ?? '-')).toEqual(['-', '-', '-', '-', '-', '-', '-', '-', 'frozen', 'frozen']);
    expect(ledgers[8]?.hold?.detail).toMatch(/9 of 10 serving instances reported down within 120 s/);
  });

  it('one zone down while the others serve does not freeze; most zones down do (the anchor\'s zone rule)', () => {
    // 9 instances across three zones: az-c (indexes 2, 5, 8) all reported down, then az-b too.
    const group = groupOf(9, ['az-a', 'az-b', 'az-c']);
    let ledger = emptyLedger;
    const down = (zone: string) => {
      for (const i of group.instances.filter((x) => x.availabilityZone === zone)) ledger = recordReport(ledger, { instanceId: i.instanceId, atMs: t0, zone }, group, options);
    };
    down('az-c');
    expect(activeHold(ledger, t0)).toBeUndefined();
    expect(zonesDownNow(ledger, group, t0, options)).toEqual([{ zone: 'az-c', reported: 3, of: 3, from: ['unknown'] }]);
    down('az-b');
    expect(activeHold(ledger, t0)?.detail).toMatch(/2 of 3 zones reported down within 120 s \(az-b: 3 of 3, az-c: 3 of 3\)/);
  });

  it('reports older than the window do not count', () => {
    const ledgers = report(10, groupOf(10), 20_000); // one every 20 s: at most 6 inside 120 s
    expect(ledgers.every((l) => activeHold(l, t0 + 200_000) === undefined)).toBe(true);
  });

  it('a freeze lasts freezeMs, and lifts earlier when an operator resumes after it began', () => {
    const frozen = report(10).at(-1) as GroupLedger;
    expect(activeHold(frozen, t0 + options.freezeMs)).toBeDefined();
    expect(activeHold(frozen, t0 + 900 + options.freezeMs)).toBeUndefined();
    expect(activeHold(frozen, t0 + 2_000, t0 + 1_500)).toBeUndefined();
    expect(activeHold(frozen, t0 + 2_000, t0 - 1)).toBeDefined();
  });

  it('reports from before a resume do not count again', () => {
    const frozen = report(10).at(-1) as GroupLedger;
    const resumedAt = t0 + 5_000;
    const after = recordReport(frozen, { instanceId: ids(1)[0] as string, atMs: t0 + 6_000, zone: 'az-a' }, groupOf(10), options, resumedAt);
    expect(after.reports).toHaveLength(1);
  });
});

describe('rate limit', () => {
  it.each([
    { desired: 10, limit: 8 },
    { desired: 1, limit: 2 },
    { desired: 5, limit: 4 },
  ])('twice the budget by default: desired $desired → $limit marks per window', ({ desired, limit }) => {
    expect(markLimit(desired, options)).toBe(limit);
  });

  it('counts the marks inside the window only', () => {
    let ledger = emptyLedger;
    for (const k of [0, 1, 2]) ledger = recordMark(ledger, { instanceId: `i-${k}`, atMs: t0 + k * 60_000, young: false }, options);
    expect(marksInWindow(ledger, t0 + 120_000, options)).toBe(3);
    expect(marksInWindow(ledger, t0 + 600_000, options)).toBe(2);
    expect(marksInWindow(ledger, t0 + 720_001, options)).toBe(0);
  });
});

describe('releaseMark', () => {
  const reserved = recordMark(recordMark(emptyLedger, { instanceId: 'i-1', atMs: t0, young: false }, options), { instanceId: 'i-2', atMs: t0, young: false }, options);

  it('drops the reservation of a mark never made, and only that one', () => {
    expect(releaseMark(reserved, { instanceId: 'i-1', atMs: t0 }).marks.map((m) => m.instanceId)).toEqual(['i-2']);
  });

  it('returns the ledger itself when the reservation is gone (nothing to write)', () => {
    expect(releaseMark(reserved, { instanceId: 'i-1', atMs: t0 - 1 })).toBe(reserved);
  });
});

describe('loop breaker', () => {
  const mark = (ledger: GroupLedger, k: number, atMs: number, young: boolean) => recordMark(ledger, { instanceId: `i-${k}`, atMs, young }, options);

  it('holds the group at the third young mark within the window, until the oldest leaves it', () => {
    let ledger = mark(emptyLedger, 1, t0, true);
    ledger = mark(ledger, 2, t0 + 60_000, true);
    expect(activeHold(ledger, t0 + 60_000)).toBeUndefined();
    ledger = mark(ledger, 3, t0 + 120_000, true);
    const hold = activeHold(ledger, t0 + 120_000);
    expect(hold).toMatchObject({ reason: 'loopBreaker', untilMs: t0 + options.loopWindowMs });
    expect(hold?.detail).toMatch(/3 instances marked within 30 min, each less than 15 min after launch/);
  });

  it('old instances marked do not count, nor young ones outside the window', () => {
    let ledger = mark(emptyLedger, 1, t0, true);
    ledger = mark(ledger, 2, t0 + 1, false);
    ledger = mark(ledger, 3, t0 + 2, false);
    expect(activeHold(ledger, t0 + 3)).toBeUndefined();
    ledger = mark(ledger, 4, t0 + options.loopWindowMs + 10, true);
    ledger = mark(ledger, 5, t0 + options.loopWindowMs + 20, true);
    expect(activeHold(ledger, t0 + options.loopWindowMs + 30)).toBeUndefined();
  });

  it('young means a replacement: launched after an earlier mark, less than loopYoungMs before this one', () => {
    const earlier = mark(emptyLedger, 0, t0 - 120_000, false);
    expect(isYoung({ launchedAt: new Date(t0 - 60_000) }, t0, options, earlier)).toBe(true);
    expect(isYoung({ launchedAt: new Date(t0 - 60_000) }, t0, options, emptyLedger)).toBe(false);
    expect(isYoung({ launchedAt: new Date(t0 - 180_000) }, t0, options, earlier)).toBe(false);
    expect(isYoung({ launchedAt: new Date(t0 - options.loopYoungMs) }, t0, options, mark(emptyLedger, 0, t0 - options.loopYoungMs - 1, false))).toBe(false);
    expect(isYoung({}, t0, options, earlier)).toBe(false);
  });
});

describe('quorum', () => {
  const window = options.quorumWindowMs;
  const votes = (...list: Array<[string, boolean, number]>): Votes =>
    list.reduce<Votes>((v, [observer, unhealthy, atMs]) => recordVote(v, { observer, unhealthy, atMs }, window), []);

  it.each([
    { name: 'one observer', v: votes(['a', true, t0]), agree: ['a'] },
    { name: 'two observers', v: votes(['a', true, t0], ['b', true, t0 + 1]), agree: ['a', 'b'] },
    { name: 'the same observer twice counts once', v: votes(['a', true, t0], ['a', true, t0 + 1]), agree: ['a'] },
    { name: 'a healthy verdict withdraws that observer', v: votes(['a', true, t0], ['b', true, t0], ['a', false, t0 + 2]), agree: ['b'] },
    { name: 'a vote older than the window is dropped', v: votes(['a', true, t0 - window], ['b', true, t0]), agree: ['b'] },
    { name: 'an older verdict handled later never replaces a newer one', v: votes(['a', true, t0], ['a', false, t0 - 1]), agree: ['a'] },
    { name: 'a verdict of the same time handled later replaces the earlier', v: votes(['a', true, t0], ['a', false, t0]), agree: [] },
  ])('$name', ({ v, agree }) => {
    expect(agreeingObservers(v, t0 + 5, window).sort()).toEqual(agree);
  });
});

describe('budget in use', () => {
  const view = (states: Array<[string, InstanceView['lifecycleState'], InstanceView['healthStatus']]>, desired: number) => ({
    desiredCapacity: desired,
    instances: states.map(([instanceId, lifecycleState, healthStatus]): InstanceView => ({ instanceId, groupName: 'g', lifecycleState, healthStatus })),
  });

  it.each([
    { name: 'nothing marked', g: view([['a', 'InService', 'Healthy'], ['b', 'InService', 'Healthy']], 2), marked: [], inUse: 0 },
    { name: 'an Unhealthy instance still present', g: view([['a', 'InService', 'Unhealthy'], ['b', 'InService', 'Healthy']], 2), marked: [], inUse: 1 },
    { name: 'our mark the view does not show yet', g: view([['a', 'InService', 'Healthy'], ['b', 'InService', 'Healthy']], 2), marked: ['a'], inUse: 1 },
    { name: 'our mark gone, its replacement Pending', g: view([['b', 'InService', 'Healthy'], ['c', 'Pending', 'Healthy']], 2), marked: ['a'], inUse: 1 },
    { name: 'our mark gone, its replacement serving', g: view([['b', 'InService', 'Healthy'], ['c', 'InService', 'Healthy']], 2), marked: ['a'], inUse: 0 },
    { name: 'a scale-out: Pending instances spend nothing', g: view([['a', 'InService', 'Healthy'], ['b', 'InService', 'Healthy'], ['c', 'Pending', 'Healthy'], ['d', 'Pending', 'Healthy']], 4), marked: [], inUse: 0 },
    { name: 'a Terminated Unhealthy instance counts until its replacement serves', g: view([['a', 'Terminated', 'Unhealthy'], ['b', 'InService', 'Healthy'], ['c', 'Pending', 'Healthy']], 2), marked: [], inUse: 1 },
    // quarantine `retain`: out of the desired capacity as a terminated instance is, however long a person keeps it.
    { name: 'a retained Unhealthy instance counts until its replacement serves', g: view([['a', 'Terminating:Retained', 'Unhealthy'], ['b', 'InService', 'Healthy'], ['c', 'Pending', 'Healthy']], 2), marked: [], inUse: 1 },
    { name: 'a retained instance, its replacement serving', g: view([['a', 'Terminating:Retained', 'Unhealthy'], ['b', 'InService', 'Healthy'], ['c', 'InService', 'Healthy']], 2), marked: ['a'], inUse: 0 },
  ])('$name → $inUse', ({ g, marked, inUse }) => {
    expect(budgetInUse(g, marked)).toBe(inUse);
  });
});

describe('tagUntil', () => {
  it.each([
    { value: undefined, out: { active: false } },
    { value: 'false', out: { active: false } },
    { value: 'true', out: { active: true } },
    { value: 'TRUE', out: { active: true } },
    { value: '2024-05-01T13:00:00Z', out: { active: true, untilMs: Date.parse('2024-05-01T13:00:00Z') } },
    { value: '2024-05-01T15:00+02:00', out: { active: true, untilMs: Date.parse('2024-05-01T13:00:00Z') } },
    { value: '2024-05-01T13:00:00.250Z', out: { active: true, untilMs: Date.parse('2024-05-01T13:00:00.250Z') } },
    // One grammar, fail closed: anything else holds (Date.parse would read "1" as the year 2001).
    { value: 'soon', out: { active: true, unreadable: true } },
    { value: '', out: { active: true, unreadable: true } },
    { value: '1', out: { active: true, unreadable: true } },
    { value: '12', out: { active: true, unreadable: true } },
    { value: 'maintenance 2026', out: { active: true, unreadable: true } },
    { value: '2026-05-01', out: { active: true, unreadable: true } },
    { value: '2024-05-01T13:00:00', out: { active: true, unreadable: true } },
    { value: '2024-13-01T13:00:00Z', out: { active: true, unreadable: true } },
  ])('$value', ({ value, out }) => {
    expect(tagUntil(value)).toEqual(out);
  });
});
