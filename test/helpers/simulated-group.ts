/**
 * A simulated Auto Scaling group on the alarm path, in simulated time, driving the real healer
 * (src/healer) through its clock seam: for tests and benchmarks of the rails over hours, run in
 * milliseconds. No sockets, no sleeps: a queue of timed steps, taken in order.
 *
 * What it models, with the defaults (from the deployment's own settings and AWS's documented
 * behaviour, see the README's timeline):
 * - each instance has a StatusCheckFailed alarm; its transition into ALARM reaches the healer as
 *   one event `deliveryMs` later (EventBridge → Lambda, one invocation per alarm);
 * - the scheduled run every `scheduleEveryMs` (10 min) hands every alarm still in ALARM to the
 *   healer in one call, as the Lambda's held work does (src/alarms/held.ts);
 * - a marked instance terminates `terminateAfterMs` (20 s) later; its replacement launches then,
 *   serves `bootMs` (90 s) after launch, and its alarm exists from launch;
 * - `alarmWrong`: every alarm goes to ALARM `alarmAfterMs` after its instance launched (or after
 *   the start, for the instances already there) — a threshold of 0 on a healthy fleet;
 * - otherwise only the instances named by `fail(ids, atMs)` alarm, `detectMs` after they fail,
 *   and their replacements are healthy.
 */
import { createHealer } from '../../src/healer/healer.js';
import type { LedgerPort } from '../../src/healer/ledger.js';
import type { Healer, VerdictRecord } from '../../src/healer/types.js';
import { policyOptionsSchema, type PolicyOptionsInput } from '../../src/policy/options.js';
import type { HealthSignal } from '../../src/signals/types.js';
import { alarmSignal as signal } from './events.js';
import { MemoryFleet } from './memory-fleet.js';

export interface SimulatedGroupOptions {
  size: number;
  /** Availability Zones the instances are spread over, round robin; none by default. */
  zones?: readonly string[];
  policy?: PolicyOptionsInput;
  gracePeriodSeconds?: number;
  /** Every alarm goes to ALARM soon after its instance exists: the evidence is wrong. */
  alarmWrong?: boolean;
  alarmAfterMs?: number;
  /** From a failure to its alarm's ALARM (status checks, 2 periods of 60 s). */
  detectMs?: number;
  deliveryMs?: number;
  scheduleEveryMs?: number;
  /** When the first scheduled run comes, after the start. */
  scheduleOffsetMs?: number;
  /** The scheduled run hands the alarms in ALARM over one per call (to compare with one batch). */
  scheduledOneByOne?: boolean;
  /** Where the healer keeps the rails' memory (default: this process's). */
  ledger?: LedgerPort;
  terminateAfterMs?: number;
  bootMs?: number;
}

interface Step {
  atMs: number;
  seq: number;
  run: () => Promise<void> | void;
}

export const simulationStartMs = Date.parse('2026-01-05T09:00:00Z');

export class SimulatedGroup {
  readonly fleet: MemoryFleet;
  readonly healer: Healer;
  /** Every record the healer returned, in order. */
  readonly records: VerdictRecord[] = [];
  /** When each marked instance was marked. */
  readonly marks: Array<{ instanceId: string; atMs: number }> = [];
  /** Instances replaced and their replacements serving: when the replacement served. */
  readonly served: Array<{ replaced: string; atMs: number }> = [];
  nowMs = simulationStartMs;

  private readonly o: Required<Omit<SimulatedGroupOptions, 'zones' | 'policy' | 'ledger'>> & Pick<SimulatedGroupOptions, 'zones'>;
  private readonly queue: Step[] = [];
  private readonly inAlarm = new Set<string>();
  private readonly failed = new Set<string>();
  private seq = 0;
  private launched = 0;

  constructor(options: SimulatedGroupOptions) {
    this.o = {
      gracePeriodSeconds: 300,
      alarmWrong: false,
      alarmAfterMs: 60_000,
      detectMs: 150_000,
      deliveryMs: 1_000,
      scheduleEveryMs: 600_000,
      scheduleOffsetMs: 300_000,
      scheduledOneByOne: false,
      terminateAfterMs: 20_000,
      bootMs: 90_000,
      ...options,
    };
    this.fleet = new MemoryFleet([{ name: 'workers', desiredCapacity: options.size, healthCheckGracePeriodSeconds: this.o.gracePeriodSeconds, instances: [] }]);
    for (let k = 0; k < options.size; k++) this.launch(this.nowMs - 86_400_000, 'InService');
    this.healer = createHealer({ fleet: this.fleet, policy: policyOptionsSchema.parse(options.policy ?? {}), clock: () => this.nowMs, ...(options.ledger ? { ledger: options.ledger } : {}) });
    // Spread over one alarm period, in a fixed order: no chance in a simulation a test asserts on.
    if (this.o.alarmWrong) this.live().forEach((id, k) => this.at(this.nowMs + (this.o.alarmAfterMs * k) / options.size, () => this.alarm(id)));
    this.at(this.nowMs + this.o.scheduleOffsetMs, () => this.scheduled());
  }

  /** The instances of the group now. */
  live(): string[] {
    return this.fleet.groupInstances('workers').map((i) => i.instanceId);
  }

  /** Instances that really stop working at `atMs`: their alarms go to ALARM `detectMs` later. */
  fail(ids: readonly string[], atMs: number): void {
    for (const id of ids) {
      this.at(atMs, () => void this.failed.add(id));
      this.at(atMs + this.o.detectMs, () => this.alarm(id));
    }
  }

  /** Runs every step up to `untilMs`. */
  async run(untilMs: number): Promise<void> {
    for (;;) {
      this.queue.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
      const next = this.queue[0];
      if (next === undefined || next.atMs > untilMs) break;
      this.queue.shift();
      this.nowMs = Math.max(this.nowMs, next.atMs);
      await next.run();
    }
    this.nowMs = untilMs;
  }

  private at(atMs: number, run: Step['run']): void {
    this.queue.push({ atMs, seq: this.seq++, run });
  }

  private launch(launchedAtMs: number, state: 'Pending' | 'InService'): string {
    const k = this.launched++;
    const instanceId = `i-${k.toString(16).padStart(17, '0')}`;
    const zone = this.o.zones?.[k % this.o.zones.length];
    this.fleet.addInstance('workers', { instanceId, lifecycleState: state, launchedAt: new Date(launchedAtMs), ...(zone ? { availabilityZone: zone } : {}) });
    return instanceId;
  }

  private alarm(instanceId: string): void {
    if (!this.fleet.instance(instanceId) || this.inAlarm.has(instanceId)) return;
    this.inAlarm.add(instanceId);
    const atMs = this.nowMs;
    this.at(atMs + this.o.deliveryMs, () => this.decide([signal(instanceId, atMs)]));
  }

  private async scheduled(): Promise<void> {
    const held = [...this.inAlarm].filter((id) => this.fleet.instance(id)).map((id) => signal(id, this.nowMs));
    if (this.o.scheduledOneByOne) for (const one of held) await this.decide([one]);
    else if (held.length > 0) await this.decide(held);
    this.at(this.nowMs + this.o.scheduleEveryMs, () => this.scheduled());
  }

  private async decide(signals: HealthSignal[]): Promise<void> {
    for (const r of await this.healer.handleSignals(signals)) {
      this.records.push(r);
      if (r.verdict.action === 'mark' && r.error === undefined) this.replaceLater(r.signal.instanceId);
    }
  }

  private replaceLater(instanceId: string): void {
    this.marks.push({ instanceId, atMs: this.nowMs });
    this.at(this.nowMs + this.o.terminateAfterMs, () => {
      this.fleet.removeInstance(instanceId);
      this.inAlarm.delete(instanceId);
      const replacement = this.launch(this.nowMs, 'Pending');
      this.at(this.nowMs + this.o.bootMs, () => {
        this.fleet.update(replacement, { lifecycleState: 'InService' });
        this.served.push({ replaced: instanceId, atMs: this.nowMs });
      });
      if (this.o.alarmWrong) this.at(this.nowMs + this.o.alarmAfterMs, () => this.alarm(replacement));
    });
  }
}
