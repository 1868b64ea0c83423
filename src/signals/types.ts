/** What a piece of evidence says about one instance. */
export type HealthState = 'unhealthy' | 'healthy';

/**
 * A CloudWatch alarm's state, as alarm messages name it and DescribeAlarms reports it. One
 * definition: the policy decides on a re-read state, the healer's port returns one.
 */
export type AlarmState = 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';

/** The kind of evidence a signal came from. */
export type SignalSource =
  /** CloudWatch alarm JSON as SNS publishes it (the SNS `Message`), however it was enveloped. */
  | 'cloudwatch-alarm'
  /** EventBridge "CloudWatch Alarm State Change". */
  | 'eventbridge-alarm'
  /** The payload CloudWatch sends when an alarm invokes a Lambda function directly. */
  | 'alarm-lambda-action'
  /** The 2014 bridge's body in which every `\"` of the SNS `Message` was sent as `!!`. */
  | 'legacy-escaped-alarm'
  /** autoheal's own prober. */
  | 'probe';

/** Where the instance id was found. */
export type InstanceIdOrigin =
  /** An `InstanceId` metric dimension. */
  | 'dimension'
  /** A Metrics Insights contributor's attributes. */
  | 'contributor'
  /** The alarm name ends with an instance id (`StatusCheckFailed-Alarm-for-i-0abc…`). */
  | 'alarm-name'
  /** A probe target. */
  | 'probe-target';

/**
 * One piece of evidence about one instance, whatever envelope it came in.
 * Pure data: produced by the parsers in this folder, consumed by policy.
 */
export interface HealthSignal {
  instanceId: string;
  state: HealthState;
  source: SignalSource;
  /** When the evidence was observed (the alarm's state change time), ISO 8601. */
  observedAt: string;
  /** Identifies the event for de-duplication: SNS MessageId, EventBridge id, or a derived id. */
  eventId: string;
  /** Human-readable: why this evidence says what it says (the alarm's NewStateReason, the probe error). */
  reason: string;
  instanceIdFrom: InstanceIdOrigin;
  /** The alarm's name, when the evidence is an alarm: lets the healer re-check stale alarms. */
  alarmName?: string;
  /** The alarm's region, when known (from its ARN or the envelope). */
  region?: string;
  /** The SQS message id of the record this signal came from, when it came from an SQS batch. */
  recordId?: string;
  /** For probe evidence: the observer that probed, as the evidence names it (the quorum counts distinct observers). */
  observer?: string;
  /**
   * For a verdict envelope that came through SQS: the record's `SenderId`, the identity the channel
   * proves (an IAM role's unique id and session, `AROA…:name`), for the healer to check against the
   * observer the envelope claims.
   */
  sender?: string;
}

/** Input that yields no signal, and why. The reason names the failing place: `Records[3].Sns.Message: not JSON`. */
export interface Rejection {
  reason: string;
  /** The SQS message id of the record, when the input was an SQS batch. */
  recordId?: string;
}

/** An Auto Scaling group gained or lost an instance (used to keep per-instance alarms in sync). */
export interface LifecycleSignal {
  instanceId: string;
  groupName: string;
  change: 'launched' | 'terminated';
  observedAt: string;
  eventId: string;
  recordId?: string;
}

/** Everything one input yielded. Parsers never throw: what they cannot use is in `rejected`. */
export interface ParseResult {
  signals: HealthSignal[];
  lifecycle: LifecycleSignal[];
  rejected: Rejection[];
}
