/**
 * A group's ledger: one plain value, changed only by pure reducers with the clock passed in.
 * Holds that hold (re-armed, escalated, lifted only by a resume), a resume time in the future,
 * the quorum votes, and what `settle` keeps. No sockets, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import type { GroupView, InstanceView } from '../../src/fleet/port.js';
import { activeHold, budgetMarks, emptyLedger, markedRecently, type GroupLedger } from '../../src/policy/ledger.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { pruneVotes, recordInstanceVote, votesOf } from '../../src/policy/quorum.js';
import { recordMark, settle } from '../../src/policy/rails.js';
import { recordReport, sourcesOf } from '../../src/policy/suspicion.js';
import { futureSkewMs, parseIsoTime, readResume } from '../../src/policy/tags.js';
import { decide } from '../../src/policy/decide.js';

const options = policyOptionsSchema.parse({});
const t0 = Date.parse('2024-05-01T12:00:00Z');
const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i + 1).padStart(17, '0')}`);

function groupOf(n: number, desired = n): Pick<GroupView, 'desiredCapacity' | 'instances'> {
  return {
    desiredCapacity: desired,
    instances: ids(n).map((instanceId): InstanceView => ({ instanceId, groupName: 'g', lifecycleState: 'InService', healthStatus: 'Healthy' })),
  };
}

/** Every instance of a group of 10 reported down at `atMs`, as a re-decision of alarms all in ALARM does. */
function reportAll(ledger: GroupLedger, atMs: number, resumedAtMs?: number): GroupLedger {
  return ids(10).reduce((l, instanceId) => recordReport(l, { instanceId, atMs, source: 'cloudwatch-alarm' }, groupOf(10), options, resumedAtMs), ledger);
}

describe('holds that hold', () => {
  it('a freeze re-arms while reports keep coming, and keeps its start', () => {
    const frozen = reportAll(emptyLedger, t0);
    const rearmed = reportAll(frozen, t0 + 300_000);
    expect(activeHold(rearmed, t0 + 800_000)).toMatchObject({ reason: 'frozen', sinceMs: t0, untilMs: t0 + 300_000 + options.freezeMs });
    expect(rearmed.freezes).toEqual({ count: 1, firstMs: t0, lastUntilMs: t0 + 300_000 + options.freezeMs });
  });

  it('a group that freezes again soon after each freeze lifts is held until an operator resumes', () => {
    // Prepare: each re-decision comes just after the freeze lifted (the scheduled run every 10 min).
    let ledger = emptyLedger;
    const reasons: string[] = [];

    // Act
    for (let k = 0; k < 4; k++) {
      ledger = reportAll(ledger, t0 + k * (options.freezeMs + 1_000));
      reasons.push(activeHold(ledger, t0 + k * (options.freezeMs + 1_000))?.reason ?? '-');
    }

    // Assess
    expect(reasons).toEqual(['frozen', 'frozen', 'frozenUntilResume', 'frozenUntilResume']);
    const hold = activeHold(ledger, t0 + 100 * options.freezeMs);
    expect(hold).toMatchObject({ reason: 'frozenUntilResume' });
    expect(hold?.untilMs).toBeUndefined();
    expect(hold?.detail).toMatch(/^frozen 3 times in a row, each within 600 s of the last one lifting; now 9 of 10 serving instances reported down within 120 s: the evidence is wrong, not the fleet$/);
    // A resume after it began lifts it, and the streak starts over.
    const resumedAt = t0 + 100 * options.freezeMs;
    expect(activeHold(ledger, resumedAt + 1, resumedAt)).toBeUndefined();
    expect(reportAll(ledger, resumedAt + 1_000, resumedAt).freezes).toMatchObject({ count: 1 });
  });

  it('freezes far apart do not escalate', () => {
    let ledger = emptyLedger;
    for (let k = 0; k < 4; k++) ledger = reportAll(ledger, t0 + k * 3 * options.freezeMs);
    expect(activeHold(ledger, t0 + 9 * options.freezeMs)?.reason).toBe('frozen');
    expect(ledger.freezes?.count).toBe(1);
  });

  it('a frozen hold keeps a loop breaker\'s later end; a hold until resume is not replaced by a freeze', () => {
    const held: GroupLedger = { ...emptyLedger, hold: { reason: 'loopBreaker', sinceMs: t0, untilMs: t0 + 3_600_000, detail: 'loop' } };
    expect(activeHold(reportAll(held, t0 + 1_000), t0 + 1_000)).toMatchObject({ reason: 'frozen', untilMs: t0 + 3_600_000 });
    const untilResume: GroupLedger = { ...emptyLedger, hold: { reason: 'frozenUntilResume', sinceMs: t0, detail: 'x' } };
    expect(activeHold(reportAll(untilResume, t0 + 1_000), t0 + 1_000)).toEqual(untilResume.hold);
  });

  it('decide names a hold until resume without a time', () => {
    const g: GroupView = { name: 'g', healthCheckGracePeriodSeconds: 0, tags: { 'autoheal:enabled': 'true' }, suspendedProcesses: [], ...groupOf(10) };
    const verdict = decide({
      signal: { instanceId: ids(1)[0] as string, state: 'unhealthy', source: 'cloudwatch-alarm', observedAt: new Date(t0).toISOString(), eventId: 'e', reason: 'r', instanceIdFrom: 'dimension' },
      instance: g.instances[0] as InstanceView,
      group: g,
      nowMs: t0,
      options,
      duplicate: false,
      capacity: { inUse: 0, base: 10, missing: 0 },
      hold: { reason: 'frozenUntilResume', sinceMs: t0, detail: 'frozen 3 times' },
    });
    expect(verdict).toEqual({ action: 'skip', reason: 'frozenUntilResume', detail: 'frozen 3 times; held until `autoheal resume g`' });
  });
});

describe('the resume tag', () => {
  it.each([
    { name: 'no tag', value: undefined, atMs: undefined, futureMs: undefined },
    { name: 'unreadable: no resume, holds stay', value: 'yesterday', atMs: undefined, futureMs: undefined },
    { name: 'a time past', value: '2024-05-01T11:00:00Z', atMs: t0 - 3_600_000, futureMs: undefined },
    { name: 'within the skew', value: new Date(t0 + futureSkewMs).toISOString(), atMs: t0 + futureSkewMs, futureMs: undefined },
    { name: 'in the future beyond the skew: counts as now', value: '2025-05-01T12:00:00Z', atMs: t0, futureMs: Date.parse('2025-05-01T12:00:00Z') },
  ])('$name', ({ value, atMs, futureMs }) => {
    const reading = readResume(emptyLedger, value, t0);
    expect(reading.atMs).toBe(atMs);
    expect(reading.futureMs).toBe(futureMs);
  });

  it('a future resume stays at the moment it was first read: later holds are not lifted by it', () => {
    // Prepare
    const tag = '2025-05-01T12:00:00Z';
    const first = readResume(emptyLedger, tag, t0);
    const frozen = reportAll(first.ledger, t0 + 60_000, first.atMs);

    // Act: 30 minutes on, the same tag is read again.
    const later = readResume(frozen, tag, t0 + 1_800_000);

    // Assess
    expect(later.atMs).toBe(t0);
    expect(later.ledger).toBe(frozen);
    expect(later.futureMs).toBe(Date.parse(tag));
    expect(activeHold(frozen, t0 + 120_000, later.atMs)?.reason).toBe('frozen');
    // A new tag value is a new resume; a removed tag forgets it.
    expect(readResume(frozen, '2024-05-01T12:10:00Z', t0 + 1_800_000).atMs).toBe(t0 + 600_000);
    expect(readResume(frozen, undefined, t0).ledger.resume).toBeUndefined();
  });

  it('parses only full ISO 8601 times', () => {
    expect([parseIsoTime('2024-05-01T12:00Z'), parseIsoTime(' 2024-05-01T12:00:00+0000 '), parseIsoTime('1'), parseIsoTime('2024-02-30T12:00:00Z'), parseIsoTime('2024-05-01T25:00:00Z')]).toEqual([t0, t0, undefined, undefined, undefined]);
  });
});

describe('votes in the ledger', () => {
  it('keeps each instance\'s latest vote per observer, and prunes them by the window', () => {
    let ledger = recordInstanceVote(emptyLedger, 'i-a', { observer: 'o1', unhealthy: true, atMs: t0 }, 30_000);
    ledger = recordInstanceVote(ledger, 'i-b', { observer: 'o1', unhealthy: true, atMs: t0 }, 30_000);
    ledger = recordInstanceVote(ledger, 'i-a', { observer: 'o2', unhealthy: true, atMs: t0 + 1 }, 30_000);
    ledger = recordInstanceVote(ledger, 'i-a', { observer: 'o1', unhealthy: false, atMs: t0 + 2 }, 30_000);
    expect(votesOf(ledger, 'i-a')).toEqual([
      { observer: 'o2', unhealthy: true, atMs: t0 + 1 },
      { observer: 'o1', unhealthy: false, atMs: t0 + 2 },
    ]);
    expect(pruneVotes(ledger.votes ?? [], t0 + 30_001, 30_000)).toEqual([{ instanceId: 'i-a', observer: 'o1', unhealthy: false, atMs: t0 + 2 }]);
    expect(JSON.parse(JSON.stringify(ledger))).toEqual(ledger);
  });
});

describe('settle', () => {
  it('drops what no rail needs, and keeps a gone mark while the group is short of its replacement', () => {
    // Prepare: desired 3, two serve; i-gone was marked an hour ago and never replaced (launches fail).
    const g = groupOf(2, 3);
    let ledger = recordMark(emptyLedger, { instanceId: 'i-gone', atMs: t0, young: false }, options);
    ledger = recordMark(ledger, { instanceId: ids(1)[0] as string, atMs: t0 + 1, young: false }, options);
    ledger = recordReport(ledger, { instanceId: ids(2)[1] as string, atMs: t0 }, g, options);
    ledger = recordInstanceVote(ledger, 'i-gone', { observer: 'o', unhealthy: true, atMs: t0 }, options.quorumWindowMs);
    ledger = { ...ledger, hold: { reason: 'frozen', sinceMs: t0, untilMs: t0 + 1_000, detail: 'x' }, freezes: { count: 1, firstMs: t0, lastUntilMs: t0 + 1_000 } };
    const hourOn = t0 + 3_600_000;

    // Act
    const settled = settle(ledger, g, hourOn, options);

    // Assess
    expect(settled).toEqual({ marks: [{ instanceId: 'i-gone', atMs: t0, young: false }], reports: [] });
    expect(budgetMarks(settled, g, hourOn, options)).toEqual([{ instanceId: 'i-gone' }]);
    // Once a replacement serves, nothing is owed any more.
    expect(settle(settled, groupOf(3, 3), hourOn, options).marks).toEqual([]);
  });

  it('keeps what is still inside its window', () => {
    const g = groupOf(10);
    let ledger = recordMark(emptyLedger, { instanceId: ids(1)[0] as string, atMs: t0, young: false, zone: 'az-a' }, options);
    ledger = recordInstanceVote(ledger, ids(2)[1] as string, { observer: 'o', unhealthy: true, atMs: t0 }, options.quorumWindowMs);
    ledger = reportAll(ledger, t0);
    const settled = settle(ledger, g, t0 + 1_000, options);
    expect(settled).toEqual(ledger);
    expect(markedRecently(settled, ids(1)[0] as string, t0 + 1_000, options)).toBe(true);
    expect(budgetMarks(settled, g, t0 + 1_000, options)).toEqual([{ instanceId: ids(1)[0], zone: 'az-a' }]);
  });
});

describe('where reports come from', () => {
  it('names the observers of probe reports and the source of the others', () => {
    expect(sourcesOf([{ instanceId: 'a', atMs: 0, source: 'probe', observers: ['o2', 'o1'] }, { instanceId: 'b', atMs: 0, source: 'cloudwatch-alarm' }, { instanceId: 'c', atMs: 0, source: 'probe', observers: ['o1'] }])).toEqual([
      'cloudwatch-alarm',
      'observer o1',
      'observer o2',
    ]);
  });
});
