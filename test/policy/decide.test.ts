import { describe, expect, it } from 'vitest';
import type { GroupView, InstanceView } from '../../src/fleet/port.js';
import { decide, isOptedIn, isStale, unhealthyBudget, type DecideInput } from '../../src/policy/decide.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import type { HealthSignal } from '../../src/signals/types.js';

const nowMs = Date.parse('2024-05-01T12:00:00Z');
const options = policyOptionsSchema.parse({});

const signal: HealthSignal = {
  instanceId: 'i-0123456789abcdef0',
  state: 'unhealthy',
  source: 'cloudwatch-alarm',
  observedAt: new Date(nowMs - 30_000).toISOString(),
  eventId: 'evt-1',
  reason: 'Threshold Crossed',
  instanceIdFrom: 'dimension',
  alarmName: 'autoheal-status-check-i-0123456789abcdef0',
};

const instance: InstanceView = {
  instanceId: signal.instanceId,
  groupName: 'workers',
  lifecycleState: 'InService',
  healthStatus: 'Healthy',
};

const group: GroupView = {
  name: 'workers',
  desiredCapacity: 5,
  healthCheckGracePeriodSeconds: 300,
  suspendedProcesses: [],
  tags: { 'autoheal:enabled': 'true' },
  instances: [instance],
};

/** A probe verdict observed 5 s ago, well inside the 30 s quorum window. */
const probe: HealthSignal = { ...signal, source: 'probe', observedAt: new Date(nowMs - 5_000).toISOString() };

/** What the group has: 5 serving (desired 5), `inUse` of them marked and not replaced yet. */
const capacity = (inUse: number, change: Partial<DecideInput['capacity']> = {}): DecideInput['capacity'] => ({ inUse, base: 5, missing: 0, ...change });

const base: DecideInput = { signal, instance, group, nowMs, options, duplicate: false, capacity: capacity(0) };

describe('decide', () => {
  // Each row changes the base input just enough to trigger one check; the base itself marks.
  const rows: Array<{ name: string; input: Partial<DecideInput>; action: 'mark' | 'skip'; reason: string; detail?: RegExp }> = [
    { name: 'marks an unhealthy InService instance of an opted-in group', input: {}, action: 'mark', reason: 'unhealthy', detail: /^budget 1 of 2$/ },
    { name: 'skips a healthy signal, even without views', input: { signal: { ...signal, state: 'healthy' }, instance: undefined, group: undefined }, action: 'skip', reason: 'signalHealthy' },
    { name: 'skips an instance in no group', input: { instance: undefined, group: undefined }, action: 'skip', reason: 'notInGroup', detail: /in no Auto Scaling group/ },
    { name: 'skips an instance whose group is gone', input: { group: undefined }, action: 'skip', reason: 'notInGroup', detail: /group workers not found/ },
    { name: 'skips a group without the opt-in tag', input: { group: { ...group, tags: {} } }, action: 'skip', reason: 'notOptedIn', detail: /lacks tag autoheal:enabled=true/ },
    { name: 'skips a group whose tag has another value', input: { group: { ...group, tags: { 'autoheal:enabled': 'false' } } }, action: 'skip', reason: 'notOptedIn' },
    { name: 'marks in a group named in options, untagged', input: { group: { ...group, tags: {} }, options: { ...options, groups: ['workers'] } }, action: 'mark', reason: 'unhealthy' },
    { name: 'honours a configured opt-in tag', input: { group: { ...group, tags: { team: 'ops' } }, options: { ...options, optInTagKey: 'team', optInTagValue: 'ops' } }, action: 'mark', reason: 'unhealthy' },
    { name: 'skips a Pending instance', input: { instance: { ...instance, lifecycleState: 'Pending' } }, action: 'skip', reason: 'notInService', detail: /Pending/ },
    { name: 'skips a Terminating instance', input: { instance: { ...instance, lifecycleState: 'Terminating' } }, action: 'skip', reason: 'notInService' },
    { name: 'skips an instance already Unhealthy', input: { instance: { ...instance, healthStatus: 'Unhealthy' } }, action: 'skip', reason: 'alreadyUnhealthy' },
    { name: 'skips a duplicate', input: { duplicate: true }, action: 'skip', reason: 'duplicate', detail: /within 600 s/ },
    { name: 'prefers already Unhealthy over duplicate', input: { duplicate: true, instance: { ...instance, healthStatus: 'Unhealthy' } }, action: 'skip', reason: 'alreadyUnhealthy' },
    { name: 'skips within the grace period', input: { instance: { ...instance, launchedAt: new Date(nowMs - 259_500) } }, action: 'skip', reason: 'inGracePeriod', detail: /ends in 41 s/ },
    { name: 'marks once the grace period is over', input: { instance: { ...instance, launchedAt: new Date(nowMs - 300_000) } }, action: 'mark', reason: 'unhealthy' },
    { name: 'skips stale evidence whose alarm is OK now', input: { recheck: { state: 'OK' } }, action: 'skip', reason: 'stale', detail: /alarm autoheal-status-check-i-0123456789abcdef0 is OK now/ },
    { name: 'skips stale evidence whose alarm is INSUFFICIENT_DATA now', input: { recheck: { state: 'INSUFFICIENT_DATA' } }, action: 'skip', reason: 'stale' },
    { name: 'skips stale evidence whose alarm was deleted', input: { recheck: { state: undefined }, signal: { ...signal, alarmName: undefined } }, action: 'skip', reason: 'stale', detail: /^the alarm is deleted now$/ },
    { name: 'marks stale evidence still in ALARM', input: { recheck: { state: 'ALARM' } }, action: 'mark', reason: 'unhealthy', detail: /re-checked: still ALARM/ },
    { name: 'marks while the budget lasts (1 of 2 used)', input: { capacity: capacity(1) }, action: 'mark', reason: 'unhealthy', detail: /^budget 2 of 2$/ },
    { name: 'skips when the budget is spent (2 of 2)', input: { capacity: capacity(2) }, action: 'skip', reason: 'budgetSpent', detail: /2 of budget 2 Unhealthy or not yet replaced \(0.4 of 5 serving\)/ },
    { name: 'a group of one can always be healed', input: { group: { ...group, desiredCapacity: 1 }, capacity: capacity(0, { base: 1 }) }, action: 'mark', reason: 'unhealthy', detail: /of 1$/ },
    { name: 'a configured share widens the budget', input: { capacity: capacity(4), options: { ...options, maxUnhealthyShare: 1 } }, action: 'mark', reason: 'unhealthy' },
    { name: 'not opted in wins over not InService', input: { group: { ...group, tags: {} }, instance: { ...instance, lifecycleState: 'Standby' } }, action: 'skip', reason: 'notOptedIn' },
    { name: 'skips a paused group (tag true)', input: { group: { ...group, tags: { ...group.tags, 'autoheal:paused': 'true' } } }, action: 'skip', reason: 'paused', detail: /until the tag is removed/ },
    { name: 'skips a group paused until later', input: { group: { ...group, tags: { ...group.tags, 'autoheal:paused': new Date(nowMs + 60_000).toISOString() } } }, action: 'skip', reason: 'paused', detail: /60 s more/ },
    { name: 'marks once a pause has passed', input: { group: { ...group, tags: { ...group.tags, 'autoheal:paused': new Date(nowMs - 1).toISOString() } } }, action: 'mark', reason: 'unhealthy' },
    { name: 'an unreadable pause fails closed', input: { group: { ...group, tags: { ...group.tags, 'autoheal:paused': 'yes please' } } }, action: 'skip', reason: 'paused', detail: /tag autoheal:paused="yes please" is not true, false or a full ISO 8601 time \(2026-05-14T18:00:00Z\): paused until it is fixed or removed/ },
    { name: 'a pause of false is no pause', input: { group: { ...group, tags: { ...group.tags, 'autoheal:paused': 'false' } } }, action: 'mark', reason: 'unhealthy' },
    { name: 'paused wins over not InService', input: { group: { ...group, tags: { ...group.tags, 'autoheal:paused': 'true' } }, instance: { ...instance, lifecycleState: 'Pending' } }, action: 'skip', reason: 'paused' },
    { name: 'skips a suppressed instance', input: { instance: { ...instance, tags: { 'autoheal:suppressed-until': new Date(nowMs + 90_000).toISOString() } } }, action: 'skip', reason: 'suppressed', detail: /90 s more/ },
    { name: 'marks once a suppression has passed', input: { instance: { ...instance, tags: { 'autoheal:suppressed-until': new Date(nowMs - 1).toISOString() } } }, action: 'mark', reason: 'unhealthy' },
    { name: 'skips a suppressed instance (tag true)', input: { instance: { ...instance, tags: { 'autoheal:suppressed-until': 'true' } } }, action: 'skip', reason: 'suppressed', detail: /until the tag is removed/ },
    { name: 'a suppression of 1 is unreadable, and holds', input: { instance: { ...instance, tags: { 'autoheal:suppressed-until': '1' } } }, action: 'skip', reason: 'suppressed', detail: /"1" is not true, false or a full ISO 8601 time/ },
    { name: 'a pause of 1 is unreadable, and holds', input: { group: { ...group, tags: { ...group.tags, 'autoheal:paused': '1' } } }, action: 'skip', reason: 'paused', detail: /"1" is not true, false or a full ISO 8601 time/ },
    { name: 'missing facts are unavailable, never "no grace, no suppression"', input: { instance: { ...instance, factsMissing: 'no launch time' } }, action: 'skip', reason: 'unavailable', detail: /facts of i-0123456789abcdef0 could not be read \(no launch time\): its grace period and suppression are unknown/ },
    { name: 'an instance already Unhealthy needs no facts', input: { instance: { ...instance, factsMissing: 'no launch time', healthStatus: 'Unhealthy' } }, action: 'skip', reason: 'alreadyUnhealthy' },
    { name: 'an unreadable suppression fails closed', input: { instance: { ...instance, tags: { 'autoheal:suppressed-until': 'after the deploy' } } }, action: 'skip', reason: 'suppressed', detail: /tag autoheal:suppressed-until="after the deploy" is not true, false or a full ISO 8601 time/ },
    { name: 'skips when the group suspended ReplaceUnhealthy', input: { group: { ...group, suspendedProcesses: ['AZRebalance', 'ReplaceUnhealthy'] } }, action: 'skip', reason: 'processesSuspended', detail: /ReplaceUnhealthy/ },
    { name: 'skips when the group suspended Launch (a mark would only shrink it)', input: { group: { ...group, suspendedProcesses: ['Launch'] } }, action: 'skip', reason: 'processesSuspended' },
    { name: 'other suspended processes do not matter', input: { group: { ...group, suspendedProcesses: ['AZRebalance', 'ScheduledActions'] } }, action: 'mark', reason: 'unhealthy' },
    { name: 'a probe verdict alone never marks', input: { signal: { ...probe, observer: 'a' }, agreeingObservers: ['a'] }, action: 'skip', reason: 'awaitingQuorum', detail: /1 of 2 observers agree within 30 s \(a\)/ },
    { name: 'a probe verdict with no agreeing observer waits', input: { signal: probe }, action: 'skip', reason: 'awaitingQuorum', detail: /0 of 2/ },
    { name: 'a quorum of probe verdicts marks', input: { signal: probe, agreeingObservers: ['a', 'b'] }, action: 'mark', reason: 'unhealthy', detail: /2 observers agree/ },
    { name: 'a quorum of one is allowed when configured', input: { signal: probe, agreeingObservers: ['a'], options: { ...options, probeQuorum: 1 } }, action: 'mark', reason: 'unhealthy' },
    { name: 'the grace period wins over the quorum', input: { signal: probe, instance: { ...instance, launchedAt: new Date(nowMs - 1_000) } }, action: 'skip', reason: 'inGracePeriod' },
    // A backlog held the verdict past the window: no vote, whatever the others say (issue 20, item 4).
    { name: 'a probe verdict as old as the quorum window is no vote', input: { signal: { ...probe, observedAt: new Date(nowMs - 30_000).toISOString() }, agreeingObservers: ['a', 'b'] }, action: 'skip', reason: 'voteExpired', detail: /observed 30 s ago, the quorum window is 30 s/ },
    { name: 'an unreadable verdict time counts as long ago', input: { signal: { ...probe, observedAt: 'yesterday' }, agreeingObservers: ['a', 'b'] }, action: 'skip', reason: 'voteExpired' },
    { name: 'a verdict stamped in the future counts from now', input: { signal: { ...probe, observedAt: new Date(nowMs + 3_600_000).toISOString() }, agreeingObservers: ['a', 'b'] }, action: 'mark', reason: 'unhealthy' },
    { name: 'an expired vote is held like any other skip: the grace period still comes first', input: { signal: { ...probe, observedAt: new Date(nowMs - 60_000).toISOString() }, instance: { ...instance, launchedAt: new Date(nowMs - 1_000) } }, action: 'skip', reason: 'inGracePeriod' },
    { name: 'skips a frozen group', input: { hold: { reason: 'frozen', sinceMs: nowMs - 1_000, untilMs: nowMs + 599_000, detail: '5 of 5 instances reported down' } }, action: 'skip', reason: 'frozen', detail: /5 of 5 instances reported down; held for 599 s more, or until `autoheal resume workers`/ },
    { name: 'skips a group held by the loop breaker', input: { hold: { reason: 'loopBreaker', sinceMs: nowMs, untilMs: nowMs + 60_000, detail: '3 instances marked' } }, action: 'skip', reason: 'loopBreaker' },
    { name: 'skips at the rate limit (twice the budget by default)', input: { marksInWindow: 4 }, action: 'skip', reason: 'rateLimited', detail: /4 marks within 10 min, limit 4/ },
    { name: 'marks below the rate limit', input: { marksInWindow: 3 }, action: 'mark', reason: 'unhealthy' },
    { name: 'a configured rate limit', input: { marksInWindow: 1, options: { ...options, maxMarksPerWindow: 1 } }, action: 'skip', reason: 'rateLimited', detail: /limit 1/ },
    { name: 'a hold wins over the rate limit and the budget', input: { marksInWindow: 9, capacity: capacity(9), hold: { reason: 'frozen', sinceMs: nowMs, untilMs: nowMs + 1, detail: 'x' } }, action: 'skip', reason: 'frozen' },
    { name: 'the rate limit wins over the budget', input: { marksInWindow: 9, capacity: capacity(9) }, action: 'skip', reason: 'rateLimited' },
    { name: 'a non-budget reason is never blamed on the budget', input: { capacity: capacity(9), instance: { ...instance, healthStatus: 'Unhealthy' } }, action: 'skip', reason: 'alreadyUnhealthy' },
  ];

  it.each(rows)('$name', ({ input, action, reason, detail }) => {
    // Prepare
    const decideInput = { ...base, ...input };

    // Act
    const verdict = decide(decideInput);

    // Assess
    expect(verdict).toMatchObject({ action, reason });
    if (detail) expect(verdict.detail).toMatch(detail);
  });

  it('gives the healthy signal its own reason as the detail', () => {
    expect(decide({ ...base, signal: { ...signal, state: 'healthy', reason: 'back to OK' } }).detail).toBe('back to OK');
  });
});

describe('unhealthyBudget', () => {
  it.each([
    { desired: 0, share: 0.4, budget: 1 },
    { desired: 1, share: 0.4, budget: 1 },
    { desired: 2, share: 0.4, budget: 1 },
    { desired: 5, share: 0.4, budget: 2 },
    { desired: 10, share: 0.4, budget: 4 },
    { desired: 10, share: 1, budget: 10 },
    { desired: 3, share: 0.01, budget: 1 },
  ])('max(1, floor($share × $desired)) = $budget', ({ desired, share, budget }) => {
    expect(unhealthyBudget(desired, share)).toBe(budget);
  });
});

describe('isStale', () => {
  it.each([
    { name: 'fresh evidence', observedAt: new Date(nowMs - 1_000).toISOString(), stale: false },
    { name: 'exactly at the limit', observedAt: new Date(nowMs - 120_000).toISOString(), stale: false },
    { name: 'older than staleAfterMs', observedAt: new Date(nowMs - 120_001).toISOString(), stale: true },
    { name: 'from the future within the clock-skew allowance', observedAt: new Date(nowMs + 5_000).toISOString(), stale: false },
    { name: 'from the future beyond it: re-checked', observedAt: new Date(nowMs + 5_001).toISOString(), stale: true },
    { name: 'an unreadable time', observedAt: 'yesterday-ish', stale: true },
  ])('$name → $stale', ({ observedAt, stale }) => {
    expect(isStale({ ...signal, observedAt }, nowMs, options)).toBe(stale);
  });
});

describe('isOptedIn', () => {
  it('accepts a named group and a tagged group, rejects others', () => {
    const named = { ...options, groups: ['a'] };
    expect(isOptedIn({ ...group, name: 'a', tags: {} }, named)).toBe(true);
    expect(isOptedIn(group, named)).toBe(true);
    expect(isOptedIn({ ...group, tags: {} }, named)).toBe(false);
  });
});
