/**
 * A simulated AWS account in virtual time, for bench/scale.ts: Auto Scaling, EC2 and DynamoDB as
 * latencies and token buckets, the fleet port over them, and an SQS queue with Lambda's event
 * source mapping in front of the real healer. Virtual time: a latency is a step in a queue, not a
 * sleep, so an hour of an account with 10,000 instances runs in seconds and the figures do not
 * depend on the machine.
 *
 * The figures, and where they come from:
 * - Latencies: Auto Scaling Describe* 80 ms, EC2 DescribeInstances 100 ms, SetInstanceHealth
 *   100 ms (issue 20's figures, as measured from a Lambda in the same Region); DynamoDB GetItem
 *   5 ms and a conditional PutItem 8 ms (DynamoDB's "single-digit milliseconds").
 * - Rate limits: token buckets per API and account, answering Throttling when empty. EC2
 *   documents its non-mutating actions at a bucket of 100 and a refill of 20 per second (EC2
 *   API reference, "Request throttling"). Auto Scaling publishes no figures: its Describe* calls
 *   are modelled like EC2's, SetInstanceHealth (mutating) at half of that.
 * - The SDK's standard retry strategy: 3 attempts, full-jitter backoff from 500 ms for a
 *   throttling error (100 ms otherwise), at most 20 s.
 * - The event source mapping: batches of up to 10 messages, a batching window of 1 s,
 *   MaximumConcurrency 5 (the stack's defaults), partial batch responses; a failed message is
 *   visible again after the visibility timeout (6 × the healer's 60 s), and goes to the
 *   dead-letter queue after 10 receives.
 */
import { DescribeAutoScalingGroupsCommand, DescribeAutoScalingInstancesCommand, SetInstanceHealthCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { callsAtOnce, chunks } from '../../src/aws/call.js';
import { instanceIdsPerDescribe, type InstanceFacts } from '../../src/aws/ec2.js';
import { mapLimited } from '../../src/concurrency.js';
import type { HealthStatus, LifecycleState } from '../../src/fleet/port.js';
import type { LedgerPort } from '../../src/healer/ledger.js';

/** Virtual time: steps in time order; between steps every promise chain runs until it waits again. */
export class VirtualTime {
  nowMs = 0;
  private steps: Array<{ atMs: number; seq: number; run: () => void }> = [];
  private seq = 0;

  at(atMs: number, run: () => void): void {
    const step = { atMs: Math.max(atMs, this.nowMs), seq: this.seq++, run };
    // Kept sorted by time, then by order of scheduling; most steps land near the end.
    let k = this.steps.length;
    while (k > 0 && (this.steps[k - 1] as { atMs: number }).atMs > step.atMs) k--;
    this.steps.splice(k, 0, step);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(this.nowMs + ms, resolve));
  }

  /** Runs every step up to `untilMs`. */
  async run(untilMs: number): Promise<void> {
    for (;;) {
      const next = this.steps[0];
      if (next === undefined || next.atMs > untilMs) break;
      this.steps.shift();
      this.nowMs = next.atMs;
      next.run();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.nowMs = untilMs;
  }
}

/** A seeded random number generator (mulberry32): the same run every time. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const apis = {
  DescribeAutoScalingInstances: { latencyMs: 80, bucket: 100, perSecond: 20 },
  DescribeAutoScalingGroups: { latencyMs: 80, bucket: 100, perSecond: 20 },
  DescribeInstances: { latencyMs: 100, bucket: 100, perSecond: 20 },
  SetInstanceHealth: { latencyMs: 100, bucket: 50, perSecond: 10 },
} as const;
export type Api = keyof typeof apis;

/** The account's API: each call waits its latency and takes a token, retried as the SDK does. */
export class SimulatedApi {
  /** Calls per API per virtual minute (attempts, throttled ones included). */
  readonly perMinute = new Map<Api, number[]>();
  throttled = 0;
  private readonly buckets = new Map<Api, { tokens: number; atMs: number }>();

  constructor(
    private readonly time: VirtualTime,
    private readonly random: () => number,
  ) {}

  async call(api: Api): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const minute = Math.floor(this.time.nowMs / 60_000);
      const counts = this.perMinute.get(api) ?? [];
      counts[minute] = (counts[minute] ?? 0) + 1;
      this.perMinute.set(api, counts);
      await this.time.sleep(apis[api].latencyMs);
      if (this.take(api)) return;
      this.throttled++;
      if (attempt === 2) throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
      await this.time.sleep(this.random() * Math.min(20_000, 500 * 2 ** attempt));
    }
  }

  /** The busiest API and minute: calls, and the limit of that API per minute. */
  busiest(): { api: Api; calls: number; limit: number } {
    let best = { api: 'SetInstanceHealth' as Api, calls: 0, limit: apis.SetInstanceHealth.perSecond * 60 };
    for (const [api, counts] of this.perMinute) {
      const calls = Math.max(0, ...counts.filter((c) => c !== undefined));
      const limit = apis[api].perSecond * 60;
      if (calls / limit > best.calls / best.limit) best = { api, calls, limit };
    }
    return best;
  }

  private take(api: Api): boolean {
    const { bucket, perSecond } = apis[api];
    const b = this.buckets.get(api) ?? { tokens: bucket, atMs: this.time.nowMs };
    b.tokens = Math.min(bucket, b.tokens + ((this.time.nowMs - b.atMs) / 1000) * perSecond);
    b.atMs = this.time.nowMs;
    this.buckets.set(api, b);
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
}

interface Instance {
  instanceId: string;
  groupName: string;
  zone: string;
  lifecycleState: LifecycleState;
  healthStatus: HealthStatus;
  /** Answers its probes. */
  up: boolean;
}

/**
 * The account's groups and instances, served to the real fleet adapter (src/fleet/aws/fleet.ts)
 * and the wing (src/aws/autoscaling.ts) as an Auto Scaling client whose `send` answers from
 * here, after the API's latency and token; EC2's facts through the adapter's facts reader, in the
 * wing's batches.
 */
export class SimulatedAccount {
  readonly instances = new Map<string, Instance>();
  readonly groups = new Map<string, { desiredCapacity: number; ids: string[] }>();
  /** When each instance was marked. */
  readonly markedAt = new Map<string, number>();
  private launched = 0;

  constructor(
    private readonly time: VirtualTime,
    private readonly api: SimulatedApi,
  ) {}

  addGroup(name: string, zone: string, size: number): string[] {
    const ids = Array.from({ length: size }, () => this.launch(name, zone, 'InService'));
    this.groups.set(name, { desiredCapacity: size, ids });
    return ids;
  }

  /** The Auto Scaling client the wing calls: DescribeAutoScalingInstances, DescribeAutoScalingGroups, SetInstanceHealth. */
  autoScaling(): AutoScalingClient {
    const send = async (command: { input: Record<string, unknown> }): Promise<unknown> => {
      if (command instanceof DescribeAutoScalingInstancesCommand) {
        await this.api.call('DescribeAutoScalingInstances');
        const ids = command.input.InstanceIds ?? [];
        return { AutoScalingInstances: this.live(ids).map((i) => ({ InstanceId: i.instanceId, AutoScalingGroupName: i.groupName, AvailabilityZone: i.zone, LifecycleState: i.lifecycleState, HealthStatus: i.healthStatus.toUpperCase() })) };
      }
      if (command instanceof DescribeAutoScalingGroupsCommand) {
        await this.api.call('DescribeAutoScalingGroups');
        return { AutoScalingGroups: (command.input.AutoScalingGroupNames ?? []).flatMap((name) => this.groupOf(name)) };
      }
      if (command instanceof SetInstanceHealthCommand) {
        await this.api.call('SetInstanceHealth');
        this.mark(command.input.InstanceId ?? '', command.input.HealthStatus ?? '');
        return {};
      }
      throw new Error(`the simulated account does not answer ${command.constructor.name}`);
    };
    return { send } as unknown as AutoScalingClient;
  }

  /** EC2's facts of the instances, in the wing's batches and concurrency (src/aws/ec2.ts). */
  readonly instanceFacts = async (ids: readonly string[]): Promise<Map<string, InstanceFacts>> => {
    await mapLimited(chunks([...new Set(ids)], instanceIdsPerDescribe), callsAtOnce, () => this.api.call('DescribeInstances'));
    return new Map(this.live(ids).map((i) => [i.instanceId, { launchedAt: new Date(-86_400_000), tags: {} }]));
  };

  /** The instances observers probe: every one not terminated. */
  probed(): Instance[] {
    return [...this.instances.values()].filter((i) => i.lifecycleState !== 'Terminated');
  }

  private live(ids: readonly string[]): Instance[] {
    return ids.flatMap((id) => {
      const i = this.instances.get(id);
      return i && i.lifecycleState !== 'Terminated' ? [i] : [];
    });
  }

  private groupOf(name: string) {
    const g = this.groups.get(name);
    if (!g) return [];
    const instances = this.live(g.ids).map((i) => ({ InstanceId: i.instanceId, AvailabilityZone: i.zone, LifecycleState: i.lifecycleState, HealthStatus: i.healthStatus, ProtectedFromScaleIn: false }));
    return [{ AutoScalingGroupName: name, DesiredCapacity: g.desiredCapacity, HealthCheckGracePeriod: 300, Tags: [{ Key: 'autoheal:enabled', Value: 'true' }], SuspendedProcesses: [], Instances: instances }];
  }

  private mark(instanceId: string, status: string): void {
    const i = this.instances.get(instanceId);
    if (!i || status !== 'Unhealthy' || i.healthStatus === 'Unhealthy') return;
    i.healthStatus = 'Unhealthy';
    this.markedAt.set(instanceId, this.time.nowMs);
    // Auto Scaling terminates it (~20 s) and launches a replacement that serves ~90 s later.
    this.time.at(this.time.nowMs + 20_000, () => {
      i.lifecycleState = 'Terminated';
      const replacement = this.launch(i.groupName, i.zone, 'Pending');
      this.groups.get(i.groupName)?.ids.push(replacement);
      this.time.at(this.time.nowMs + 90_000, () => {
        (this.instances.get(replacement) as Instance).lifecycleState = 'InService';
      });
    });
  }

  private launch(groupName: string, zone: string, lifecycleState: LifecycleState): string {
    const instanceId = `i-${(++this.launched).toString(16).padStart(17, '0')}`;
    this.instances.set(instanceId, { instanceId, groupName, zone, lifecycleState, healthStatus: 'Healthy', up: true });
    return instanceId;
  }
}

/** A ledger port with DynamoDB's latencies in front of another (the healer's in-memory one: one table for every environment), counting its requests. */
export function slowLedger(inner: LedgerPort, time: VirtualTime): LedgerPort & { reads: number; writes: number } {
  const counted = {
    reads: 0,
    writes: 0,
    read: async (group: string) => {
      counted.reads++;
      await time.sleep(5);
      return inner.read(group);
    },
    write: async (group: string, ledger: Parameters<LedgerPort['write']>[1], version: number) => {
      counted.writes++;
      await time.sleep(8);
      return inner.write(group, ledger, version);
    },
  };
  return counted;
}
