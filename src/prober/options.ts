import { z } from 'zod';
import { isObserverName, observerNameRule } from '../signals/observer-name.js';

/** Limits of the prober's options, used by the checks and by their error messages alike. */
export const proberLimits = {
  minIntervalMs: 50,
  maxIntervalMs: 3_600_000,
  minTimeoutMs: 10,
  maxThreshold: 10,
  maxConcurrency: 10_000,
  minPort: 1,
  maxPort: 65_535,
} as const;

/** Whether `port` is one a target can answer on: a whole number from 1 to 65535. */
export function isTargetPort(port: number): boolean {
  return Number.isInteger(port) && port >= proberLimits.minPort && port <= proberLimits.maxPort;
}

/** What {@link isTargetPort} accepts, in the words of every error about a port. */
export const targetPortRange = `an integer from ${proberLimits.minPort} to ${proberLimits.maxPort}`;

/**
 * The prober's settings: how often, how long, how many failures make an instance unhealthy.
 * Detection takes at most `intervalMs × unhealthyThreshold + timeoutMs` after a failure starts
 * (its floor is `intervalMs × unhealthyThreshold`).
 */
export const proberOptionsSchema = z
  .object({
    /** Every target is checked once per interval, on a fixed schedule from the prober's start. */
    intervalMs: z.number().int().min(proberLimits.minIntervalMs).max(proberLimits.maxIntervalMs).default(5_000),
    /** A check that has not answered within this failed; at most `intervalMs`. */
    timeoutMs: z.number().int().min(proberLimits.minTimeoutMs).default(2_000),
    /** Consecutive failures that make a target unhealthy. */
    unhealthyThreshold: z.number().int().min(1).max(proberLimits.maxThreshold).default(2),
    /** Consecutive successes that make an unhealthy target healthy again. */
    healthyThreshold: z.number().int().min(1).max(proberLimits.maxThreshold).default(2),
    /**
     * Each target gets a fixed random offset in [0, jitterMs) within the interval, so that
     * thousands of targets are not all checked at the same instant; at most `intervalMs`.
     */
    jitterMs: z.number().int().min(0).default(0),
    /** Checks in flight at once, at most. */
    concurrency: z.number().int().min(1).max(proberLimits.maxConcurrency).default(256),
    /** `http`: GET `path`, expect `expectedStatus`. `tcp`: a connection is accepted. */
    check: z.enum(['http', 'tcp']).default('http'),
    path: z.string().startsWith('/').default('/health'),
    expectedStatus: z.number().int().min(100).max(599).default(200),
    /**
     * While a target stays unhealthy, send its unhealthy signal again this often, so that an
     * instance the healer skipped (budget spent) is reconsidered once budget is free. 0: never.
     */
    repeatUnhealthyAfterMs: z.number().int().min(0).default(10_000),
    /**
     * This observer's name, carried by every verdict (the `Observer` dimension): the healer's
     * quorum counts distinct names, so two observers must never share one. The grammar is the
     * one the healer reads (src/signals/observer-name.ts).
     */
    observer: z.string().refine(isObserverName, observerNameRule).default('observer'),
    /**
     * The self-check (see self-check.ts): lateness beyond which the observer counts itself
     * degraded (default: one interval, at least 250 ms), the fewest targets for "all failing
     * means cut off" (default 2), and how long the condition must stay clear before it speaks
     * again (default: intervalMs × (healthyThreshold + 1)).
     */
    maxLatenessMs: z.number().int().min(1).optional(),
    cutOffMinTargets: z.number().int().min(1).default(2),
    /** The fewest targets that must lose checks and answer again for the path to count as lossy (default 3; see self-check.ts). */
    lossyMinTargets: z.number().int().min(1).default(3),
    recoverAfterMs: z.number().int().min(0).optional(),
    /** Something that should always answer (a gateway, an endpoint); when it fails, the observer is degraded. */
    reference: z
      .object({ host: z.string().min(1), port: z.number().int().min(proberLimits.minPort).max(proberLimits.maxPort), check: z.enum(['http', 'tcp']).default('tcp'), path: z.string().startsWith('/').default('/') })
      .strict()
      .optional(),
    /** Heartbeats (the `heartbeat` callback) at most this often; the contract's floor is 10 s. */
    heartbeatEveryMs: z.number().int().min(1_000).default(10_000),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.timeoutMs > o.intervalMs) {
      ctx.addIssue({ code: 'custom', path: ['timeoutMs'], message: `timeoutMs (${o.timeoutMs}) must be at most intervalMs (${o.intervalMs})` });
    }
    if (o.jitterMs > o.intervalMs) {
      ctx.addIssue({ code: 'custom', path: ['jitterMs'], message: `jitterMs (${o.jitterMs}) must be at most intervalMs (${o.intervalMs})` });
    }
  });

export type ProberOptions = z.output<typeof proberOptionsSchema>;
export type ProberOptionsInput = z.input<typeof proberOptionsSchema>;

/** One thing to check: an instance and where it answers. `check`, `path` and `expectedStatus` override the options. */
export interface ProbeTarget {
  instanceId: string;
  host: string;
  port: number;
  check?: 'http' | 'tcp';
  path?: string;
  expectedStatus?: number;
  /** The Auto Scaling group it belongs to: the observer judges its reach per group (reach.ts). */
  group?: string;
}
