// toRemoteError: the one place SDK failures become messages an operator can act on.
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
