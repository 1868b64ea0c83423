/**
 * The demo's options, validated once: their defaults, what the demo can break, and the checks
 * between options (a zone to fail must be one of the zones, a partition must leave an observer).
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { localGroupOptionsSchema, maxLocalInstances } from '../fleet/local/options.js';
import { failureModes } from './inject.js';

/** The demo's defaults: fast enough that `npx autoheal demo` ends within seconds. */
export const demoDefaults = {
  instances: 3,
  failure: 'freeze',
  rounds: 3,
  intervalMs: 250,
  unhealthyThreshold: 2,
  /**
   * Probe timeout (capped at 80% of the interval). Loopback answers in a millisecond or two; a
   * frozen instance is only seen when its check times out, so a long timeout delays detection
   * (bench/recovery.ts: 200 ms missed the floor + 100 ms goal at p95, 80 ms meets it).
   */
  probeTimeoutMs: 80,
  maxUnhealthyShare: 0.4,
  /** The group's own check of an exited process: slow on purpose, as EC2's status check is. */
  exitNoticeMs: 15_000,
  /** EC2's shutdown, shortened: long enough that a mass failure visibly heals in waves. */
  shutdownMs: 300,
  roundTimeoutMs: 30_000,
  /**
   * An instance that has not listened on its port by then failed to start, and so did the demo:
   * a `--command` that never listens is reported after this, not retried.
   */
  startTimeoutMs: 10_000,
  /** Observers probing the group; the healer marks when 2 of them agree (1 with a single observer). */
  observers: 3,
  /** How long `--failure observer-partition` keeps one observer cut off. */
  partitionMs: 20_000,
} as const;

/** The rails a repeated drill relaxes ({@link demoOptionsSchema} `drillRails`): only the suspicion window's one round, no loop breaker. */
export const drillRails = { loopMarks: 1_000_000, maxMarksPerWindow: 1_000_000, suspicionWindowMs: 1_000 } as const;

/** What the demo can break: an instance (inject.ts), or an observer's view of the whole group. */
export const observerFailures = ['observer-partition', 'observer-blind'] as const;
export const demoFailures = [...failureModes, ...observerFailures] as const;
export type DemoFailure = (typeof demoFailures)[number];

/**
 * Whether the failure is an observer's, not an instance's: `observer-partition` cuts one off from
 * a group it has seen answer; `observer-blind` cuts one off from the start, so it never sees the
 * group answer (a wrong security group, port or path looks like that).
 */
export function isObserverFailure(failure: DemoFailure): failure is (typeof observerFailures)[number] {
  return (observerFailures as readonly string[]).includes(failure);
}

/**
 * How an observer is cut off here: an injected black hole (its checks to the group time out, as
 * dropped SYNs would). A cut with `ip netns` needs the observer in a process of its own (a
 * network namespace belongs to a process, and the instances listen on this namespace's loopback);
 * the demo's observers share this process, so the black hole is what runs, and the output says so.
 */
export const cutMethod = 'black-hole' as const;

/** Options of {@link runDemo}. */
export const demoOptionsSchema = z
  .object({
    instances: z.number().int().min(1).max(maxLocalInstances).default(demoDefaults.instances),
    failure: z.enum(demoFailures).default(demoDefaults.failure),
    /** Observers (in-process probers, each with its own name) publishing to the topic. */
    observers: z.number().int().min(1).max(5).default(demoDefaults.observers),
    /** Observers cut off from the group during the rounds (observer-partition: 1 unless given). */
    partition: z.number().int().min(0).max(4).default(0),
    /** The observers' self-check (false: only the core's rails stand between a cut observer and the group). */
    selfCheck: z.boolean().default(true),
    /**
     * Relax the three rails that count a drill's own failures over minutes: the loop breaker
     * (marks of instances seconds old), the rate limit (2 × budget per 10 min) and the suspicion window (distinct instances reported down
     * within 2 min). A drill fails a fresh instance round after round on purpose; the benchmark
     * sets this so its 20 rounds measure detection, not those rails. Default: relaxed for rounds
     * of instance failures (a 3-instance group failing 3 fresh instances within 2 minutes would
     * otherwise freeze by round 3), the core's own rails for observer-partition (which shows them).
     */
    drillRails: z.boolean().optional(),
    /** How long observer-partition runs. */
    partitionMs: z.number().int().min(1_000).max(600_000).default(demoDefaults.partitionMs),
    rounds: z.number().int().min(1).max(1000).default(demoDefaults.rounds),
    intervalMs: z.number().int().min(50).max(60_000).default(demoDefaults.intervalMs),
    unhealthyThreshold: z.number().int().min(1).max(10).default(demoDefaults.unhealthyThreshold),
    /**
     * A probe not answered within this failed; unset: 80 ms, or 80% of a shorter interval. A
     * frozen instance is only seen when its check times out, so this adds to detection.
     */
    probeTimeoutMs: z.number().int().min(10).optional(),
    /** Share of the group failed at once each round (0 < mass ≤ 1); unset: one instance. */
    mass: z.number().gt(0).lte(1).optional(),
    maxUnhealthyShare: z.number().gt(0).lte(1).default(demoDefaults.maxUnhealthyShare),
    exitNoticeMs: z.number().int().min(0).default(demoDefaults.exitNoticeMs),
    /** How long a Terminating instance keeps running (the local group's `shutdownDelayMs`). */
    shutdownMs: z.number().int().min(0).max(60_000).default(demoDefaults.shutdownMs),
    roundTimeoutMs: z.number().int().positive().default(demoDefaults.roundTimeoutMs),
    startTimeoutMs: z.number().int().positive().default(demoDefaults.startTimeoutMs),
    /** A shell command to run as each instance instead of the built-in server (given $PORT). */
    command: z.string().min(1).optional(),
    /** The zones the local group spreads its instances over (none by default); the timeline names each instance's. */
    zones: localGroupOptionsSchema.shape.zones,
    /** Fail every instance of this zone each round, instead of one (or the `mass` share). */
    zone: z.string().optional(),
  })
  .strict()
  .refine((o) => o.probeTimeoutMs === undefined || o.probeTimeoutMs <= o.intervalMs, {
    path: ['probeTimeoutMs'],
    message: 'probeTimeoutMs must be at most intervalMs',
  })
  .refine((o) => o.partition < o.observers, { path: ['partition'], message: 'partition must leave at least one observer connected (less than observers)' })
  .refine((o) => o.zone === undefined || o.zones.includes(o.zone), {
    path: ['zone'],
    message: 'zone must be one of zones (give them: zones a,b,c and zone a)',
  })
  .refine((o) => o.zone === undefined || o.mass === undefined, { path: ['zone'], message: 'zone and mass both choose what fails: give one of them' })
  .refine((o) => o.zone === undefined || !isObserverFailure(o.failure), {
    path: ['zone'],
    message: 'zone fails instances: observer-partition and observer-blind fail none (use freeze, crash or sick)',
  })
  .refine((o) => o.zone === undefined || o.instances >= o.zones.length, {
    path: ['instances'],
    message: 'instances must be at least the number of zones, so that the zone to fail has an instance',
  });

export type DemoOptions = z.output<typeof demoOptionsSchema>;
export type DemoOptionsInput = z.input<typeof demoOptionsSchema>;

/** The options, or a ConfigError naming each option that is wrong and why. */
export function parseDemoOptions(input: DemoOptionsInput): DemoOptions {
  const parsed = demoOptionsSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`demo options: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Whether the drill relaxes the rails that count its own failures (see `drillRails` above). */
export function relaxesRails(options: DemoOptions): boolean {
  return options.drillRails ?? !isObserverFailure(options.failure);
}
