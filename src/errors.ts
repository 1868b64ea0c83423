/**
 * The one error family of autoheal. Errors from the AWS SDK, the network or the OS are
 * converted at the boundary where they happen, keeping the original as `cause`, so that
 * one place ({@link isRetryable}) decides what a caller may try again.
 */
export class AutohealError extends Error {
  override readonly name: string = 'AutohealError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Input that can never be handled, however often it is retried (bad JSON, unknown shape). */
export class InvalidInputError extends AutohealError {
  override readonly name: string = 'InvalidInputError';
}

/** Options or configuration that cannot work; the message says which option and how to fix it. */
export class ConfigError extends AutohealError {
  override readonly name: string = 'ConfigError';
}

/** A call to AWS (or to the local fleet) failed. `retryable` is decided where the error is converted. */
export class RemoteError extends AutohealError {
  override readonly name: string = 'RemoteError';
  readonly retryable: boolean;
  /** The API action that failed, e.g. `autoscaling:SetInstanceHealth`. */
  readonly action: string;
  constructor(action: string, message: string, options: { cause?: unknown; retryable: boolean }) {
    super(message, { cause: options.cause });
    this.action = action;
    this.retryable = options.retryable;
  }
}

/** The caller lacks an IAM permission; the message names the missing action. Never retryable. */
export class AccessDeniedError extends RemoteError {
  override readonly name: string = 'AccessDeniedError';
  constructor(action: string, options: { cause?: unknown }) {
    super(action, `access denied: the IAM policy of this role must allow "${action}"`, {
      cause: options.cause,
      retryable: false,
    });
  }
}

/**
 * Auto Scaling refused to mark the instance: it is inside the health check grace period Auto
 * Scaling knows of (SetInstanceHealth with ShouldRespectGracePeriod). A hold, not a failure: the
 * same mark succeeds once the period is over. Never retryable as it stands.
 */
export class GracePeriodRefusedError extends RemoteError {
  override readonly name: string = 'GracePeriodRefusedError';
  readonly instanceId: string;
  /** The instance's age and the group's grace period, as Auto Scaling stated them. */
  readonly ageSeconds: number;
  readonly gracePeriodSeconds: number;
  constructor(action: string, instanceId: string, options: { ageSeconds: number; gracePeriodSeconds: number; cause?: unknown }) {
    super(action, `${action}: ${instanceId} is in its grace period (${options.ageSeconds} s old, the group's grace period is ${options.gracePeriodSeconds} s)`, {
      cause: options.cause,
      retryable: false,
    });
    this.instanceId = instanceId;
    this.ageSeconds = options.ageSeconds;
    this.gracePeriodSeconds = options.gracePeriodSeconds;
  }
}

/**
 * Nothing answered within a deadline: an AWS call, a delivery to the bridge's target, a stage of
 * the bridge's loop. Always retryable (the other side may answer next time); `timeoutMs` is the
 * bound that expired, and the message says which setting sets it.
 */
export class DeadlineError extends RemoteError {
  override readonly name: string = 'DeadlineError';
  readonly timeoutMs: number;
  constructor(action: string, timeoutMs: number, setBy?: string) {
    super(action, `${action}: no answer within ${timeoutMs} ms${setBy ? ` (${setBy})` : ''}`, { retryable: true });
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Codes a later attempt may get past, as the SDK's own classifier names them (its throttling,
 * transient and network codes; test/errors.test.ts holds the two side by side) and a few more that
 * AWS services answer for their own outages. Besides these: any 429 or 5xx status, and any error the
 * SDK marks `$retryable`.
 */
const throttlingOrTransient = new Set([
  // Throttling.
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
  // The service's side.
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'ResourceContention',
  // Timeouts and the network.
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
]);

const accessDenied = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthorizationError',
  'AuthFailure',
]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const e = error as ErrorLike;
  if (typeof e.code === 'string') return e.code;
  return typeof e.name === 'string' ? e.name : '';
}

/**
 * Converts anything thrown by an SDK call or a socket into a {@link RemoteError}.
 * The one place that classifies: access denied, throttling and transient failures, the rest.
 */
export function toRemoteError(action: string, error: unknown): RemoteError {
  if (error instanceof RemoteError) return error;
  const code = errorCode(error);
  if (accessDenied.has(code)) return new AccessDeniedError(action, { cause: error });
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike;
  const retryable = mayPassLater(error);
  const detail = typeof e.message === 'string' && e.message !== '' ? e.message : String(error);
  const hint = setupHints.find(([pattern]) => pattern.test(`${code} ${detail}`))?.[1];
  return new RemoteError(action, `${action} failed: ${code ? `${code}: ` : ''}${detail}${hint ? ` (${hint})` : ''}`, {
    cause: error,
    retryable,
  });
}

/** Whether the failure, or one it was caused by (a socket's error under the SDK's), is one a later attempt may get past. */
function mayPassLater(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 10) return false;
  const e = error as ErrorLike;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  return (
    throttlingOrTransient.has(errorCode(error)) ||
    (typeof e.name === 'string' && throttlingOrTransient.has(e.name)) ||
    e.$retryable !== undefined ||
    (status !== undefined && (status === 429 || status >= 500)) ||
    mayPassLater(e.cause, depth + 1)
  );
}

/** The SDK's set-up failures, with what the operator does about them. */
const setupHints: Array<[RegExp, string]> = [
  [/Region is missing/, 'set AWS_REGION, a profile with a region, or --region where the command has it'],
  [/CredentialsProviderError|Could not load credentials/, 'set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role is available'],
];

/** Whether trying the same work again later may succeed. Bad input and missing permissions never do. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof InvalidInputError || error instanceof ConfigError) return false;
  if (error instanceof RemoteError) return error.retryable;
  // Unknown failures (a bug, a crash of a dependency) are retried: losing an alarm is worse
  // than one more attempt, and the queue's redrive policy bounds the attempts.
  return true;
}

/** A message for logs and terminals: the error's own message, then its causes. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return [...new Set(parts)].join(': caused by: ');
}
