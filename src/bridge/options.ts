import { z } from 'zod';

/** SQS limits the bridge's settings are checked against (ReceiveMessage and ChangeMessageVisibility). */
export const sqsLimits = {
  maxBatchSize: 10,
  maxWaitSeconds: 20,
  maxVisibilityTimeoutSeconds: 43_200,
} as const;

/** Every default of the bridge's settings, in one place: the schema and `--help` both read them. */
export const bridgeDefaults = {
  concurrency: 10,
  batchSize: 10,
  waitSeconds: 20,
  shutdownTimeoutSeconds: 30,
  retryBaseSeconds: 2,
  retryMaxSeconds: 300,
  once: false,
  metricsHost: '0.0.0.0',
  /** Added to waitSeconds: a receive that has not returned by then is stalled. */
  stallGraceSeconds: 15,
  /** Attempts per DeleteMessageBatch entry before the message is left to be redelivered. */
  deleteAttempts: 4,
  /**
   * A delivery the target has not answered in this long failed: it is released for redelivery with
   * its backoff and its slot freed. The stack's healer function times out after 60 s; an invoke
   * that waits for it needs that, plus Lambda's own overhead.
   */
  deliveryTimeoutSeconds: 90,
  /**
   * With no redrive policy a failing message would come back until its retention period ends: each
   * retry waits at least this long then, whatever --retry-base-seconds says, so it is never a hot loop.
   */
  minRetrySecondsWithoutDeadLetterQueue: 10,
  /** At a forced shutdown, the ChangeMessageVisibility calls that hand unfinished messages back get this long. */
  releaseTimeoutSeconds: 2,
} as const;

/**
 * The bridge's settings (everything but its collaborators). Unknown keys are rejected; every
 * field but `queueUrl` has a default from {@link bridgeDefaults}.
 */
export const bridgeSettingsSchema = z
  .object({
    /** The queue to consume. */
    // Not z.url(): emulators hand out hosts such as `sqs.us-east-1.127.0.0.1` that WHATWG URL rejects.
    queueUrl: z.string().regex(/^https?:\/\/[^/\s]+\/\S+$/, {
      message: 'expected an http(s) queue URL, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/instance-failed',
    }),
    /** Messages being delivered at once (a slot frees when the target answered; the delete follows in the background). */
    concurrency: z.number().int().min(1).max(1000).default(bridgeDefaults.concurrency),
    /** MaxNumberOfMessages per ReceiveMessage. */
    batchSize: z.number().int().min(1).max(sqsLimits.maxBatchSize).default(bridgeDefaults.batchSize),
    /** Long polling: WaitTimeSeconds per ReceiveMessage. */
    waitSeconds: z.number().int().min(0).max(sqsLimits.maxWaitSeconds).default(bridgeDefaults.waitSeconds),
    /** VisibilityTimeout per ReceiveMessage; default: the queue's own (read at start). */
    visibilityTimeoutSeconds: z.number().int().min(1).max(sqsLimits.maxVisibilityTimeoutSeconds).optional(),
    /** On stop, in-flight work gets this long to finish; what has not finished then is never deleted. */
    shutdownTimeoutSeconds: z.number().min(0).max(3600).default(bridgeDefaults.shutdownTimeoutSeconds),
    /** A failed message comes back after about base × 2^(receive count − 1) seconds, jittered... */
    retryBaseSeconds: z.number().min(0).max(sqsLimits.maxVisibilityTimeoutSeconds).default(bridgeDefaults.retryBaseSeconds),
    /** ...and never later than this. */
    retryMaxSeconds: z.number().min(0).max(sqsLimits.maxVisibilityTimeoutSeconds).default(bridgeDefaults.retryMaxSeconds),
    /** Drain what is on the queue now (until a receive comes back empty with nothing in flight), then stop. */
    once: z.boolean().default(bridgeDefaults.once),
    /** Serve Prometheus metrics at http://metricsHost:metricsPort/metrics; 0 picks a free port; unset serves none. */
    metricsPort: z.number().int().min(0).max(65_535).optional(),
    metricsHost: z.string().min(1).default(bridgeDefaults.metricsHost),
    /** The watchdog restarts a receive that has not returned after waitSeconds plus this. */
    stallGraceSeconds: z.number().gt(0).max(3600).default(bridgeDefaults.stallGraceSeconds),
    /** Attempts per message to delete it (DeleteMessageBatch `Failed[]` entries are retried). */
    deleteAttempts: z.number().int().min(1).max(10).default(bridgeDefaults.deleteAttempts),
    /** A delivery not answered by the target within this is failed, released with its backoff and its slot freed. */
    deliveryTimeoutSeconds: z.number().gt(0).max(sqsLimits.maxVisibilityTimeoutSeconds).default(bridgeDefaults.deliveryTimeoutSeconds),
    /**
     * Bound on each ChangeMessageVisibility and DeleteMessageBatch call; one not answered by then is
     * abandoned (logged, counted, recovered). Default: the AWS call bound, 3 × AUTOHEAL_AWS_TIMEOUT_MS.
     */
    sqsCallTimeoutSeconds: z.number().gt(0).max(3600).optional(),
  })
  .strict()
  .refine((s) => s.retryBaseSeconds <= s.retryMaxSeconds, {
    message: 'retryBaseSeconds must not exceed retryMaxSeconds',
    path: ['retryBaseSeconds'],
  });

export type BridgeSettings = z.output<typeof bridgeSettingsSchema>;
export type BridgeSettingsInput = z.input<typeof bridgeSettingsSchema>;
