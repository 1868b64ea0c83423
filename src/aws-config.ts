/**
 * The settings every AWS SDK v3 client of autoheal is built with. Standard SDK configuration
 * applies unchanged (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>);
 * this only adds adaptive retries for throttling. Each caller constructs its own client from
 * these settings, so a bundle (the Lambda) contains only the clients it really uses.
 */
export interface AwsClientSettings {
  region?: string;
  retryMode: 'adaptive';
  maxAttempts: number;
}

/** Common settings; `region` only when given (otherwise the SDK's own resolution applies). */
export function awsClientSettings(region?: string): AwsClientSettings {
  return { ...(region ? { region } : {}), retryMode: 'adaptive', maxAttempts: 5 };
}

/**
 * SQS settings. The SDK sends each call to the host of its QueueUrl unless `endpoint` is set in
 * code; an endpoint set through AWS_ENDPOINT_URL(_SQS) does not count. Emulators hand out queue
 * URLs like `http://sqs.us-east-1.localhost:4566/…` that do not resolve on every machine, so when
 * an endpoint is configured the queue URL must not override it.
 */
export function sqsClientSettings(region?: string): AwsClientSettings & { useQueueUrlAsEndpoint?: boolean } {
  const endpointConfigured = Boolean(process.env.AWS_ENDPOINT_URL_SQS || process.env.AWS_ENDPOINT_URL);
  return { ...awsClientSettings(region), ...(endpointConfigured ? { useQueueUrlAsEndpoint: false } : {}) };
}
