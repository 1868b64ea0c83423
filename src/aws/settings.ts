/**
 * The settings every AWS SDK v3 client of autoheal is built with. Standard SDK configuration
 * applies unchanged (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>);
 * this adds adaptive retries for throttling and timeouts, so that no call waits forever. Each
 * service module of the wing builds its own client from these settings, so a bundle (the Lambda)
 * contains only the clients it really uses.
 *
 * The bounds, with the default AUTOHEAL_AWS_TIMEOUT_MS of 10000:
 * - connecting (TCP and TLS): 3 s per attempt (never more than one attempt's bound);
 * - one attempt, request sent to response: AUTOHEAL_AWS_TIMEOUT_MS (10 s) — the SDK's own default
 *   is no bound at all, and a 15-minute idle socket timeout;
 * - one call with its retries (adaptive, at most 5 attempts): 3 × AUTOHEAL_AWS_TIMEOUT_MS (30 s),
 *   enforced by callAws (src/aws/call.ts), which cancels the request and fails with a DeadlineError;
 * - calls that wait on purpose get their own bound from their caller: ReceiveMessage
 *   WaitTimeSeconds + one attempt; the bridge's Invoke its delivery deadline.
 */
import { envReader } from '../env.js';
import { ConfigError } from '../errors.js';

/** The variable that sets the per-attempt bound of every AWS call, in milliseconds. */
export const awsTimeoutEnv = 'AUTOHEAL_AWS_TIMEOUT_MS';

/** Defaults and limits of the AWS call bounds (see the file comment). */
export const awsTimeoutDefaults = {
  attemptMs: 10_000,
  connectionMs: 3_000,
  /** A call with its retries gets this many attempts' worth of time. */
  attemptsPerCall: 3,
  minMs: 100,
  maxMs: 900_000,
} as const;

/** How long an AWS call may take. */
export interface AwsTimeouts {
  /** Connecting, per attempt. */
  connectionTimeoutMs: number;
  /** One attempt: the request sent to the response's headers. */
  attemptTimeoutMs: number;
  /** One call with all its retries (what callAws bounds). */
  callTimeoutMs: number;
  /** Named in a timeout's error: where the bound comes from. */
  setBy: string;
}

let cached: { raw: string | undefined; timeouts: AwsTimeouts } | undefined;

/**
 * The AWS call bounds from AUTOHEAL_AWS_TIMEOUT_MS (default 10000). Throws a {@link ConfigError}
 * naming the variable when it is not an integer from 100 to 900000.
 */
export function awsTimeouts(env: NodeJS.ProcessEnv = process.env): AwsTimeouts {
  const raw = env[awsTimeoutEnv];
  if (env === process.env && cached !== undefined && cached.raw === raw) return cached.timeouts;
  const problems: string[] = [];
  const value = envReader(env, problems).number(awsTimeoutEnv);
  const { minMs, maxMs } = awsTimeoutDefaults;
  if (value !== undefined && !(Number.isInteger(value) && value >= minMs && value <= maxMs)) {
    problems.push(`${awsTimeoutEnv}: expected whole milliseconds from ${minMs} to ${maxMs}, got "${raw?.trim()}"`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  const attemptTimeoutMs = value ?? awsTimeoutDefaults.attemptMs;
  const timeouts: AwsTimeouts = {
    connectionTimeoutMs: Math.min(awsTimeoutDefaults.connectionMs, attemptTimeoutMs),
    attemptTimeoutMs,
    callTimeoutMs: attemptTimeoutMs * awsTimeoutDefaults.attemptsPerCall,
    setBy: `${awsTimeoutEnv}=${attemptTimeoutMs} per attempt, ${awsTimeoutDefaults.attemptsPerCall} attempts' worth per call`,
  };
  if (env === process.env) cached = { raw, timeouts };
  return timeouts;
}

export interface AwsClientSettings {
  region?: string;
  retryMode: 'adaptive';
  maxAttempts: number;
  /** NodeHttpHandler options: the SDK builds its handler from them. */
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
}

/**
 * Common settings; `region` only when given (otherwise the SDK's own resolution applies).
 * Throws a {@link ConfigError} when AUTOHEAL_AWS_TIMEOUT_MS is invalid.
 */
export function awsClientSettings(region?: string, timeouts: AwsTimeouts = awsTimeouts()): AwsClientSettings {
  return {
    ...(region ? { region } : {}),
    retryMode: 'adaptive',
    maxAttempts: 5,
    requestHandler: {
      connectionTimeout: timeouts.connectionTimeoutMs,
      requestTimeout: timeouts.attemptTimeoutMs,
      // Without it the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
}

/**
 * Where a client goes beyond the standard settings: its region, and for an emulator the process
 * starts itself (the demo's), the emulator's endpoint and credentials, set in code.
 */
export interface ClientOptions {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** A client's settings: {@link awsClientSettings} and the options given. */
export function clientSettings(options: ClientOptions = {}, timeouts: AwsTimeouts = awsTimeouts()): AwsClientSettings & Omit<ClientOptions, 'region'> {
  return {
    ...awsClientSettings(options.region, timeouts),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
}

/**
 * SQS settings. The SDK sends each call to the host of its QueueUrl unless `endpoint` is set in
 * code; an endpoint set through AWS_ENDPOINT_URL(_SQS) does not count. Emulators hand out queue
 * URLs like `http://sqs.us-east-1.localhost:4566/…` that do not resolve on every machine, so when
 * an endpoint is configured the queue URL must not override it.
 */
export function sqsClientSettings(options: ClientOptions = {}, timeouts: AwsTimeouts = awsTimeouts()): ReturnType<typeof clientSettings> & { useQueueUrlAsEndpoint?: boolean } {
  const endpointConfigured = Boolean(options.endpoint || process.env.AWS_ENDPOINT_URL_SQS || process.env.AWS_ENDPOINT_URL);
  return { ...clientSettings(options, timeouts), ...(endpointConfigured ? { useQueueUrlAsEndpoint: false } : {}) };
}
