// The report of handle(): which records failed, whether a retry may help, lifecycle hand-off.
// The parser is replaced here so each case controls exactly what one input yields.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ParseResult } from '../../src/signals/types.js';

const parsed = vi.hoisted(() => ({ next: undefined as unknown }));
vi.mock('../../src/signals/index.js', () => ({
  parseEvent: () => {
    if (parsed.next instanceof Error) throw parsed.next;
    return parsed.next;
  },
}));

const { createHealer } = await import('../../src/healer/healer.js');
const { policyOptionsSchema } = await import('../../src/policy/options.js');
const { accessDeniedError, MemoryFleet } = await import('../helpers/memory-fleet.js');

const nowMs = Date.parse('2024-05-01T12:00:00Z');
const unhealthy = (instanceId: string, recordId: string) => ({
  instanceId,
  state: 'unhealthy' as const,
  source: 'cloudwatch-alarm' as const,
  observedAt: new Date(nowMs).toISOString(),
  eventId: recordId,
  reason: 'test',
  instanceIdFrom: 'dimension' as const,
  recordId,
});
const launched = (instanceId: string, recordId: string) => ({
  instanceId,
  groupName: 'workers',
  change: 'launched' as const,
  observedAt: new Date(nowMs).toISOString(),
  eventId: recordId,
  recordId,
});

function setup(result: ParseResult | Error, onLifecycle?: () => Promise<void>) {
  parsed.next = result;
  const fleet = new MemoryFleet([{ name: 'workers', instances: Array.from({ length: 10 }, (_, i) => `i-${i + 1}`) }]);
  const healer = createHealer({
    fleet,
    policy: policyOptionsSchema.parse({}),
    clock: () => nowMs,
    ...(onLifecycle ? { onLifecycle } : {}),
  });
  return { fleet, healer };
}

describe('HealReport', () => {
  beforeEach(() => {
    parsed.next = undefined;
  });

  it('lists exactly the records whose work failed, not the rejected ones', async () => {
    // Prepare
    const { fleet, healer } = setup({
      signals: [unhealthy('i-1', 'rec-1'), unhealthy('i-2', 'rec-2'), unhealthy('i-3', 'rec-3')],
      lifecycle: [],
      rejected: [{ reason: 'Records[3].body: not JSON', recordId: 'rec-4' }],
    });
    fleet.failNext('setInstanceHealth', 1, { instanceId: 'i-2' });

    // Act
    const report = await healer.handle({});

    // Assess
    expect(report.failedRecordIds).toEqual(['rec-2']);
    expect(report.retry).toBe(true);
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual(['i-1', 'i-3']);
  });

  it('lists a denied record too (the queue redrives it to the DLQ) but says a retry will not help', async () => {
    const { fleet, healer } = setup({ signals: [unhealthy('i-1', 'rec-1')], lifecycle: [], rejected: [] });
    fleet.failNext('setInstanceHealth', 1, { error: accessDeniedError });
    const report = await healer.handle({});
    expect(report).toMatchObject({ failedRecordIds: ['rec-1'], retry: false });
  });

  it('hands lifecycle signals to onLifecycle, and fails their records when it throws', async () => {
    // Prepare
    const seen: unknown[] = [];
    const { healer } = setup({ signals: [], lifecycle: [launched('i-7', 'rec-7')], rejected: [] }, async () => {
      seen.push('called');
      throw new Error('alarm manager down');
    });

    // Act
    const report = await healer.handle({});

    // Assess
    expect(seen).toEqual(['called']);
    expect(report).toMatchObject({ failedRecordIds: ['rec-7'], retry: true });
  });

  it('ignores lifecycle signals without onLifecycle', async () => {
    const { healer } = setup({ signals: [], lifecycle: [launched('i-7', 'rec-7')], rejected: [] });
    await expect(healer.handle({})).resolves.toMatchObject({ failedRecordIds: [], retry: false });
  });

  it('turns a parser that throws into a rejection', async () => {
    const { healer } = setup(new Error('parser bug'));
    const report = await healer.handle({});
    expect(report.rejected).toEqual([{ reason: 'unparseable: parser bug' }]);
  });
});
