/**
 * The healer's protocol with a shared ledger (src/healer/group-batch.ts): reserve with a
 * conditional write, then act. Another writer is simulated between the healer's read and its
 * write, as a second process would be; the waits between attempts are the test's (no timers).
 */
import { describe, expect, it } from 'vitest';
import { commitRetry } from '../../src/healer/commit.js';
import { createHealer } from '../../src/healer/healer.js';
import { memoryLedger, type LedgerPort } from '../../src/healer/ledger.js';
import type { HealerOptions } from '../../src/healer/types.js';
import type { GroupLedger } from '../../src/policy/ledger.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import type { HealthSignal } from '../../src/signals/types.js';
import { alarmSignal } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { MemoryFleet } from '../helpers/memory-fleet.js';

const nowMs = Date.parse('2024-05-01T12:00:00Z');

/** Fresh alarm evidence about the instance (10 s old). */
const alarm = (instanceId: string): HealthSignal => alarmSignal(instanceId, nowMs - 10_000);

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${i + 1}`);

/**
 * A shared ledger in which, before each of the healer's next `times` writes, another healer
 * commits `theirs` first: the healer's write then loses the race, as it would against a table.
 */
function racingLedger(times: number, theirs: (ledger: GroupLedger) => GroupLedger) {
  const inner = memoryLedger();
  const log: string[] = [];
  let races = times;
  const port: LedgerPort = {
    read: inner.read,
    write: async (key, ledger, version) => {
      if (races > 0) {
        races--;
        const current = await inner.read(key);
        await inner.write(key, theirs(current.ledger), current.version);
        log.push('lost');
      }
      await inner.write(key, ledger, version);
      log.push('write');
    },
  };
  return { port, inner, log };
}

function healer(fleet: MemoryFleet, ledger: LedgerPort, extra: Partial<HealerOptions> = {}) {
  const waits: number[] = [];
  const h = createHealer({
    fleet,
    policy: policyOptionsSchema.parse({}),
    clock: () => nowMs,
    ledger,
    seam: { random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
    ...extra,
  });
  return { h, waits };
}

describe('reserve, then act', () => {
  it('decides again from the fresh entry when another healer committed first: the budget is never spent twice', async () => {
    // Prepare: a group of 10 (budget 4); another healer reserves i-9 and i-10 between our read and our write.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    const other = (ledger: GroupLedger): GroupLedger => ({ ...ledger, marks: [...ledger.marks, { instanceId: 'i-9', atMs: nowMs, young: false }, { instanceId: 'i-10', atMs: nowMs, young: false }] });
    const { port, inner, log } = racingLedger(1, other);
    const { h, waits } = healer(fleet, port);

    // Act
    const records = await h.handleSignals(ids(4).map(alarm));

    // Assess: only 2 of the 4 marks fit beside the other healer's 2.
    expect(records.map((r) => r.verdict.reason)).toEqual(['unhealthy', 'unhealthy', 'budgetSpent', 'budgetSpent']);
    expect(fleet.setHealthCalls.map((c) => c.instanceId)).toEqual(['i-1', 'i-2']);
    expect(log).toEqual(['lost', 'write']);
    expect(waits).toHaveLength(1);
    const { ledger } = await inner.read('workers');
    expect(ledger.marks.map((m) => m.instanceId).sort()).toEqual(['i-1', 'i-10', 'i-2', 'i-9']);
  });

  it('marks only after the reservation is committed', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    const order: string[] = [];
    const inner = memoryLedger();
    const port: LedgerPort = { read: inner.read, write: async (...args) => { order.push('commit'); await inner.write(...args); } };
    const setHealth = fleet.setInstanceHealth.bind(fleet);
    fleet.setInstanceHealth = async (...args) => { order.push(`mark ${args[0]}`); await setHealth(...args); };

    // Act
    await healer(fleet, port).h.handleSignals([alarm('i-1'), alarm('i-2')]);

    // Assess
    expect(order).toEqual(['commit', 'mark i-1', 'mark i-2']);
  });

  it('a ledger that keeps changing fails every signal retryable, and marks nothing', async () => {
    // Prepare: every write loses.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    const { port, log } = racingLedger(Number.POSITIVE_INFINITY, (ledger) => ({ ...ledger }));
    const { h, waits } = healer(fleet, port);

    // Act
    const records = await h.handleSignals([alarm('i-1'), alarm('i-2')]);

    // Assess
    expect(records.map((r) => [r.verdict.reason, r.retryable])).toEqual([['unavailable', true], ['unavailable', true]]);
    expect(records[0]?.error).toMatch(/changed since it was read/);
    expect(fleet.setHealthCalls).toEqual([]);
    expect(log.filter((l) => l === 'lost')).toHaveLength(commitRetry.attempts);
    expect(waits).toHaveLength(commitRetry.attempts - 1);
  });

  it('a mark that fails releases its reservation: the budget is not held by a mark never made', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]).failNext('setInstanceHealth', 1);
    const ledger = memoryLedger();
    const { h } = healer(fleet, ledger);

    // Act
    const [failed, marked] = await h.handleSignals([alarm('i-1'), alarm('i-2')]);

    // Assess
    expect(failed).toMatchObject({ verdict: { action: 'mark' }, retryable: true });
    expect(failed?.error).toBeDefined();
    expect(marked).toMatchObject({ verdict: { action: 'mark' } });
    expect(marked?.error).toBeUndefined();
    expect((await ledger.read('workers')).ledger.marks.map((m) => m.instanceId)).toEqual(['i-2']);
  });

  it('a release that cannot be written leaves the reservation to expire (fail closed), and says so', async () => {
    // Prepare: the decision commits, then every write fails.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]).failNext('setInstanceHealth', 1);
    const inner = memoryLedger();
    let writes = 0;
    const port: LedgerPort = {
      read: inner.read,
      write: async (...args) => {
        if (++writes > 1) throw new Error('table unavailable');
        await inner.write(...args);
      },
    };
    const { logger, lines } = capturedLogger();

    // Act
    const [record] = await healer(fleet, port, { logger }).h.handleSignals([alarm('i-1')]);

    // Assess
    expect(record?.error).toBeDefined();
    expect((await inner.read('workers')).ledger.marks.map((m) => m.instanceId)).toEqual(['i-1']);
    expect(lines.some((l) => /reservation not released/.test(String(l.msg)))).toBe(true);
  });

  it('a dry run keeps its reservations under a key of its own: it never spends the live budget', async () => {
    // Prepare
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids(10) }]);
    const ledger = memoryLedger();

    // Act
    await healer(fleet, ledger, { dryRun: true }).h.handleSignals(ids(4).map(alarm));
    const live = await healer(fleet, ledger).h.handleSignals(ids(4).map(alarm));

    // Assess
    expect(live.map((r) => r.verdict.reason)).toEqual(['unhealthy', 'unhealthy', 'unhealthy', 'unhealthy']);
    expect((await ledger.read('dry-run#workers')).ledger.marks).toHaveLength(4);
  });
});
