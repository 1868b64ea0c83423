// toRemoteError: the one place SDK failures become messages an operator can act on.
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { describe, expect, it } from 'vitest';
import { AccessDeniedError, isRetryable, toRemoteError } from '../src/errors.js';

const sdkError = (name: string, message: string, status?: number): Error =>
  Object.assign(new Error(message), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

describe('toRemoteError', () => {
  it.each([
    ['a missing region', new Error('Region is missing'), /Region is missing \(set AWS_REGION/],
    ['missing credentials', sdkError('CredentialsProviderError', 'Could not load credentials from any providers'), /\(set AWS_PROFILE or AWS_ACCESS_KEY_ID/],
  ])('tells how to fix %s', (_name, error, message) => {
    const remote = toRemoteError('autoscaling:SetInstanceHealth', error);
    expect(remote.message).toMatch(/^autoscaling:SetInstanceHealth failed: /);
    expect(remote.message).toMatch(message);
    expect(isRetryable(remote)).toBe(false);
  });

  it('names the IAM action that is missing, and never retries it', () => {
    const remote = toRemoteError('autoscaling:SetInstanceHealth', sdkError('AccessDenied', 'User is not authorized', 403));
    expect(remote).toBeInstanceOf(AccessDeniedError);
    expect(remote.message).toContain('autoscaling:SetInstanceHealth');
    expect(isRetryable(remote)).toBe(false);
  });

  it('retries throttling and server errors', () => {
    expect(isRetryable(toRemoteError('sqs:ReceiveMessage', sdkError('Throttling', 'Rate exceeded', 400)))).toBe(true);
    expect(isRetryable(toRemoteError('sqs:ReceiveMessage', sdkError('InternalError', 'boom', 500)))).toBe(true);
  });
});

describe('toRemoteError classifies as the SDK does', () => {
  // The SDK's own lists (@smithy/core, retry/service-error-classification/constants): checked against
  // its classifier below, so a change on its side shows here.
  const sdkThrottling = [
    'BandwidthLimitExceeded', 'EC2ThrottledException', 'LimitExceededException', 'PriorRequestNotComplete', 'ProvisionedThroughputExceededException',
    'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'ThrottledException', 'Throttling', 'ThrottlingException',
    'TooManyRequestsException', 'TransactionInProgressException',
  ];
  const sdkTransient = ['TimeoutError', 'RequestTimeout', 'RequestTimeoutException'];
  const sdkNetwork = ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'];
  const sdkRetries = (e: Error): boolean => isThrottlingError(e as never) || isTransientError(e as never) || isServerError(e as never);

  it.each([...sdkThrottling, ...sdkTransient])('retries %s, as the SDK does', (name) => {
    const error = sdkError(name, 'try again', 400);
    expect(sdkRetries(error)).toBe(true);
    expect(isRetryable(toRemoteError('ec2:DescribeInstances', error))).toBe(true);
  });

  it.each(sdkNetwork)('retries a socket failing with %s, also beneath the SDK\'s own error', (code) => {
    const socket = Object.assign(new Error(`connect ${code}`), { code });
    expect(sdkRetries(socket)).toBe(true);
    expect(isRetryable(toRemoteError('sns:Publish', socket))).toBe(true);
    expect(isRetryable(toRemoteError('sns:Publish', Object.assign(new Error('request failed'), { name: 'Error', cause: socket })))).toBe(true);
  });

  it.each([429, 500, 501, 502, 503, 504, 599])('retries any answer with status %i, whatever its code', (status) => {
    expect(isRetryable(toRemoteError('sns:Publish', sdkError('UnknownError', 'no document', status)))).toBe(true);
  });

  it.each([
    ['ValidationError', 400],
    ['InvalidParameterValue', 400],
    ['InvalidInstanceID.NotFound', 400],
  ])('does not retry %s (%i), as the SDK does not', (name, status) => {
    const error = sdkError(name, 'refused', status);
    expect(sdkRetries(error)).toBe(false);
    expect(isRetryable(toRemoteError('ec2:DescribeInstances', error))).toBe(false);
  });
});
