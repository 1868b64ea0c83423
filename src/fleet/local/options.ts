/**
 * The options of a local group, validated once: unknown keys are refused with their name, and
 * every error says the limit it broke.
 */
import { z } from 'zod';

/** The most instances one local group runs: each is a process on this machine. */
export const maxLocalInstances = 200;

/** Local instance ids are `i-10ca1` and a 12-digit number: EC2-shaped, as every parser requires. */
export const localIdPrefix = 'i-10ca1';

/** The most zones a local group spreads over (a real region has at most six). */
export const maxLocalZones = 8;

/** What a zone may be called: lowercase letters, digits and hyphens, as `us-east-1a` or `a`. */
const zoneName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'zones: a zone name is 1 to 32 lowercase letters, digits or hyphens (us-east-1a, a)');

/** Options of a local group. */
export const localGroupOptionsSchema = z
  .object({
    /** The group's name, as the healer sees it. */
    name: z.string().min(1).default('local'),
    /** How many instances it keeps running. */
    desiredCapacity: z
      .number()
      .int()
      .min(0)
      .max(maxLocalInstances, `desiredCapacity: at most ${maxLocalInstances} instances in a local group`)
      .default(3),
    /** After a launch, the healer (and `setInstanceHealth` respecting it) leaves the instance alone this long. */
    healthCheckGracePeriodSeconds: z.number().int().min(0).default(0),
    /** A shell command to run instead of the built-in server; it must listen on 127.0.0.1:$PORT. */
    command: z.string().min(1).optional(),
    /** The built-in server's health path. */
    healthPath: z.string().startsWith('/').default('/health'),
    /** How an Unhealthy instance is replaced. */
    replacement: z.enum(['terminate-first', 'launch-first']).default('terminate-first'),
    /** A launched instance whose port does not answer within this is terminated and launched again. */
    startTimeoutMs: z.number().int().positive().default(15_000),
    /** SIGTERM, then SIGKILL after this. */
    stopTimeoutMs: z.number().int().positive().default(2_000),
    /**
     * How long an instance stays Terminating before its process is stopped: EC2's shutdown,
     * about 20 s on AWS, during which the instance still counts against the unhealthy budget.
     * Not applied when the whole group stops.
     */
    shutdownDelayMs: z.number().int().min(0).max(60_000).default(0),
    /** How long the group takes to notice that a process exited on its own (its own "EC2 check"). */
    exitNoticeDelayMs: z.number().int().min(0).default(0),
    /**
     * The zones the instances are spread over, as Auto Scaling balances a group: each launch goes
     * to the zone with the fewest instances that serve, and a scale-in takes from the zone with the
     * most. Each instance then carries its `availabilityZone`. Default: none (no instance has a zone).
     */
    zones: z
      .array(zoneName)
      .max(maxLocalZones, `zones: at most ${maxLocalZones}`)
      .refine((zones) => new Set(zones).size === zones.length, 'zones: each zone once')
      .default([]),
    /**
     * How many of an instance's last output lines (stdout and stderr together) the group keeps,
     * so a replaced instance leaves its evidence behind (issue 16, locally). 0 keeps none.
     */
    outputLines: z.number().int().min(0).max(1_000).default(20),
    /** The group's tags; the default opts it in to autoheal. */
    tags: z.record(z.string(), z.string()).default({ 'autoheal:enabled': 'true' }),
    /** Instance ids are `${idPrefix}000000000001`, `${idPrefix}000000000002`, … */
    idPrefix: z.string().min(1).default(localIdPrefix),
    /** Extra environment for every instance. */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export type LocalGroupOptions = z.output<typeof localGroupOptionsSchema>;
export type LocalGroupOptionsInput = z.input<typeof localGroupOptionsSchema>;
