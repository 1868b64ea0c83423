import { describe, expect, it } from 'vitest';
import { createHealer } from '../../src/healer/healer.js';
import { memoryLedger } from '../../src/healer/ledger.js';
import type { AlarmState, HealerOptions } from '../../src/healer/types.js';
import { policyOptionsSchema, type PolicyOptionsInput } from '../../src/policy/options.js';
import type { HealthSignal } from '../../src/signals/types.js';
import { accessDeniedError, MemoryFleet } from '../helpers/memory-fleet.js';
import { capturedLogger } from '../helpers/log-lines.js';

const nowMs = Date.parse('2024-05-01T12:00:00Z');
const clock = (): number => nowMs;

function signal(instanceId: string, change: Partial<HealthSignal> = {}): HealthSignal {
  return {
    instanceId,
    state: 'unhealthy',
    source: 'cloudwatch-alarm',
    observedAt: new Date(nowMs - 10_000).toISOString(),
    eventId: `evt-${instanceId}`,
    reason: 'Threshold Crossed',
    instanceIdFrom: 'dimension',
    alarmName: `autoheal-status-check-${instanceId}`,
    ...change,
  };
}

const five = (): MemoryFleet => new MemoryFleet([{ name: 'workers', instances: ['i-1', 'i-2', 'i-3', 'i-4', 'i-5'] }]);

function healer(fleet: MemoryFleet, options: Partial<HealerOptions> = {}, policy: PolicyOptionsInput = {}) {
  return createHealer({ fleet, policy: policyOptionsSchema.parse(policy), clock, ...options });
}

describe('createHealer', () => {
  it('marks in order until the budget is spent: a mark in the batch uses budget for the next', async () => {
    // Prepare
    const fleet = five();

    // Act
    const records = await healer(fleet).handleSignals([signal('i-1'), signal('i-2'), signal('i-3')]);

    // Assess
    expect(records.map((r) => [r.signal.instanceId, r.verdict.action, r.verdict.reason])).toEqual([
      ['i-1', 'mark', 'unhealthy'],
      ['i-2', 'mark', 'unhealthy'],
      ['i-3', 'skip', 'budgetSpent'],
    ]);
    expect(fleet.setHealthCalls).toEqual([
      { instanceId: 'i-1', status: 'Unhealthy', respectGracePeriod: true },
      { instanceId: 'i-2', status: 'Unhealthy', respectGracePeriod: true },
    ]);
    expect(fleet.describeInstancesCalls).toEqual([['i-1', 'i-2', 'i-3']]);
    expect(fleet.describeGroupsCalls).toEqual([['workers']]);
    expect(records[0]?.groupName).toBe('workers');
  });

  it('counts instances already Unhealthy in the group against the budget', async () => {
    const fleet = five().update('i-4', { healthStatus: 'Unhealthy' }).update('i-5', { healthStatus: 'Unhealthy' });
    const [record] = await healer(fleet).handleSignals([signal('i-1')]);
    expect(record?.verdict).toMatchObject({ action: 'skip', reason: 'budgetSpent' });
  });

  it('keeps the budget spent while the replacements of terminated instances still launch', async () => {
    // Prepare: two marked instances are gone; their replacements are Pending, not serving yet.
    const fleet = five()
      .update('i-4', { lifecycleState: 'Terminated', healthStatus: 'Unhealthy' })
      .update('i-5', { lifecycleState: 'Terminated', healthStatus: 'Unhealthy' });
    fleet.addInstance('workers', { instanceId: 'i-6', lifecycleState: 'Pending' });
    fleet.addInstance('workers', { instanceId: 'i-7', lifecycleState: 'Pending' });

    // Act
    const [whileLaunching] = await healer(fleet).handleSignals([signal('i-1')]);
    fleet.update('i-6', { lifecycleState: 'InService' });
    const [onceOneServes] = await healer(fleet).handleSignals([signal('i-1', { eventId: 'later' })]);

    // Assess
    expect(whileLaunching?.verdict).toMatchObject({ action: 'skip', reason: 'budgetSpent' });
    expect(onceOneServes?.verdict).toMatchObject({ action: 'mark', detail: 'budget 2 of 2' });
  });

  it('skips a second signal for the same instance as a duplicate, in the batch and after', async () => {
    // Prepare
    const fleet = five();
    const h = healer(fleet, { dryRun: true });

    // Act
    const first = await h.handleSignals([signal('i-1'), signal('i-1', { eventId: 'again' })]);
    const later = await h.handleSignals([signal('i-1', { eventId: 'later' })]);

    // Assess
    expect(first.map((r) => r.verdict.reason)).toEqual(['unhealthy', 'duplicate']);
    expect(later.map((r) => r.verdict.reason)).toEqual(['duplicate']);
  });

  it('reads what the fleet did: a marked instance is already Unhealthy the next time', async () => {
    const fleet = five();
    const h = healer(fleet);
    await h.handleSignals([signal('i-1')]);
    const [again] = await h.handleSignals([signal('i-1', { eventId: 'again' })]);
    expect(again?.verdict.reason).toBe('alreadyUnhealthy');
  });

  it('in dry-run decides and remembers, but never calls SetInstanceHealth', async () => {
    // Prepare
    const fleet = five();
    const h = healer(fleet, { dryRun: true });
    const marked = h.events.once('healer:verdict:marked');

    // Act
    const records = await h.handleSignals([signal('i-1'), signal('i-2'), signal('i-3')]);

    // Assess
    expect(fleet.setHealthCalls).toEqual([]);
    expect(records.map((r) => [r.verdict.reason, r.dryRun])).toEqual([
      ['unhealthy', true],
      ['unhealthy', true],
      ['budgetSpent', false],
    ]);
    await expect(marked).resolves.toMatchObject({ dryRun: true, signal: { instanceId: 'i-1' } });
  });

  it('passes respectGracePeriod false through to the fleet', async () => {
    const fleet = five();
    await healer(fleet, { respectGracePeriod: false }).handleSignals([signal('i-1')]);
    expect(fleet.setHealthCalls).toEqual([{ instanceId: 'i-1', status: 'Unhealthy', respectGracePeriod: false }]);
  });

  describe('stale evidence', () => {
    const stale = (id: string): HealthSignal => signal(id, { observedAt: new Date(nowMs - 600_000).toISOString() });
    const alarmsSaying = (state: AlarmState | undefined, asked: string[] = []) => ({
      alarmState: async (name: string) => {
        asked.push(name);
        return state;
      },
    });

    it('skips when the alarm is no longer in ALARM', async () => {
      // Prepare
      const fleet = five();
      const asked: string[] = [];

      // Act
      const [record] = await healer(fleet, { alarms: alarmsSaying('OK', asked) }).handleSignals([stale('i-1')]);

      // Assess
      expect(asked).toEqual(['autoheal-status-check-i-1']);
      expect(record?.verdict).toMatchObject({ action: 'skip', reason: 'stale' });
      expect(fleet.setHealthCalls).toEqual([]);
    });

    it('marks when the alarm is still in ALARM, and does not re-check fresh evidence', async () => {
      const fleet = five();
      const asked: string[] = [];
      const records = await healer(fleet, { alarms: alarmsSaying('ALARM', asked) }).handleSignals([stale('i-1'), signal('i-2')]);
      expect(asked).toEqual(['autoheal-status-check-i-1']);
      expect(records.map((r) => r.verdict.action)).toEqual(['mark', 'mark']);
    });

    it('marks and says so when stale evidence cannot be re-checked', async () => {
      const [record] = await healer(five()).handleSignals([stale('i-1')]);
      expect(record?.verdict).toMatchObject({ action: 'mark', detail: expect.stringMatching(/stale evidence not re-checked/) });
    });

    it('turns a failed re-check into retryable failed work, without marking', async () => {
      // Prepare
      const fleet = five();
      const alarms = {
        alarmState: async (): Promise<AlarmState> => {
          throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
        },
      };

      // Act
      const [record] = await healer(fleet, { alarms }).handleSignals([stale('i-1')]);

      // Assess
      expect(record).toMatchObject({ verdict: { action: 'skip', reason: 'unavailable' }, retryable: true });
      expect(fleet.setHealthCalls).toEqual([]);
    });
  });

  it('turns a failed mark into a record with the error, and the next signals still run', async () => {
    // Prepare
    const fleet = five().failNext('setInstanceHealth', 1, { instanceId: 'i-1' });
    const h = healer(fleet);
    const failed = h.events.once('healer:mark:failed');

    // Act
    const records = await h.handleSignals([signal('i-1'), signal('i-2')]);

    // Assess
    expect(records[0]).toMatchObject({ verdict: { action: 'mark' }, retryable: true, error: expect.stringMatching(/Throttling/) });
    expect(records[1]).toMatchObject({ verdict: { action: 'mark' } });
    expect(records[1]?.error).toBeUndefined();
    await expect(failed).resolves.toMatchObject({ signal: { instanceId: 'i-1' } });
    // A failed mark is not remembered: the retry must not be a duplicate.
    const [retry] = await h.handleSignals([signal('i-1')]);
    expect(retry?.verdict.reason).toBe('unhealthy');
  });

  it('a denied mark is failed work that is not retryable', async () => {
    const fleet = five().failNext('setInstanceHealth', 1, { error: accessDeniedError });
    const [record] = await healer(fleet).handleSignals([signal('i-1')]);
    expect(record).toMatchObject({ retryable: false, error: expect.stringMatching(/autoscaling:SetInstanceHealth/) });
  });

  it('when the fleet cannot be read, every unhealthy signal fails with the error and healthy ones are still skipped', async () => {
    // Prepare
    const fleet = five().failNext('describeInstances');

    // Act
    const records = await healer(fleet).handleSignals([signal('i-1'), signal('i-2', { state: 'healthy' })]);

    // Assess
    expect(records.map((r) => [r.verdict.reason, r.retryable])).toEqual([
      ['unavailable', true],
      ['signalHealthy', undefined],
    ]);
  });

  it('does not describe anything for a batch of healthy signals', async () => {
    const fleet = five();
    await healer(fleet).handleSignals([signal('i-1', { state: 'healthy' })]);
    expect(fleet.describeInstancesCalls).toEqual([]);
  });

  it('skips instances in no group, and groups not opted in', async () => {
    const fleet = five().addGroup({ name: 'other', tags: {}, instances: ['i-9'] });
    const records = await healer(fleet).handleSignals([signal('i-404'), signal('i-9')]);
    expect(records.map((r) => [r.verdict.reason, r.groupName])).toEqual([
      ['notInGroup', undefined],
      ['notOptedIn', 'other'],
    ]);
  });

  it('writes one JSON log line per verdict with the agreed fields', async () => {
    // Prepare
    const { logger, lines } = capturedLogger();

    // Act
    await healer(five(), { logger }).handleSignals([signal('i-1')]);

    // Assess
    const verdicts = lines.filter((l) => l.msg === 'verdict');
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatchObject({
      instanceId: 'i-1',
      group: 'workers',
      action: 'mark',
      reason: 'unhealthy',
      detail: 'budget 1 of 2',
      source: 'cloudwatch-alarm',
      eventId: 'evt-i-1',
      ms: expect.any(Number),
    });
  });

  it('a listener that throws does not break the healer', async () => {
    const h = healer(five());
    h.events.on('healer:verdict:marked', () => {
      throw new Error('bad listener');
    });
    const records = await h.handleSignals([signal('i-1')]);
    expect(records[0]?.verdict.action).toBe('mark');
  });

  it('handles a plain CloudWatch alarm message end to end', async () => {
    // Prepare: EC2-shaped ids, as every parsed event must name.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ['i-0000000000000001', 'i-0000000000000002', 'i-0000000000000003'] }]);
    const alarm = {
      AlarmName: 'autoheal-status-check-i-0000000000000001',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed',
      StateChangeTime: new Date(nowMs - 5_000).toISOString(),
      Trigger: { MetricName: 'StatusCheckFailed', Namespace: 'AWS/EC2', Dimensions: [{ name: 'InstanceId', value: 'i-0000000000000001' }] },
    };

    // Act
    const report = await healer(fleet).handle(JSON.stringify(alarm));

    // Assess
    expect(report.verdicts.map((v) => v.verdict.reason)).toEqual(['unhealthy']);
    expect(report).toMatchObject({ failedRecordIds: [], retry: false });
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual(['i-0000000000000001']);
  });

  it('never throws on garbage', async () => {
    const report = await healer(five()).handle('{"not": "an alarm"');
    expect(report.verdicts).toEqual([]);
    expect(report.rejected.length).toBeGreaterThan(0);
  });
});

describe('memoryLedger', () => {
  it('keeps each group\'s ledger, refuses a write from a stale read, and keeps at most maxGroups, least recently written out first', async () => {
    // Prepare
    const ledger = memoryLedger({ maxGroups: 2 });
    const entry = { marks: [{ instanceId: 'i-1', atMs: 1, young: false }], reports: [] };

    // Act
    const first = await ledger.read('a');
    await ledger.write('a', entry, first.version);
    const stale = ledger.write('a', entry, first.version);
    await ledger.write('b', entry, 0);
    await ledger.write('c', entry, 0);

    // Assess
    expect(first).toEqual({ ledger: { marks: [], reports: [] }, version: 0 });
    await expect(stale).rejects.toMatchObject({ name: 'LedgerConflictError', retryable: true });
    expect(ledger.size).toBe(2);
    expect(await ledger.read('a')).toEqual({ ledger: { marks: [], reports: [] }, version: 0 });
    expect(await ledger.read('c')).toEqual({ ledger: entry, version: 1 });
  });
});
