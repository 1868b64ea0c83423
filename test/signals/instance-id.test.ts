// The EC2 instance id, defined once (src/signals/read.ts): its shape, and where it stands in text.
import { describe, expect, it } from 'vitest';
import { findEc2InstanceId, isEc2InstanceId } from '../../src/signals/read.js';

describe('EC2 instance ids', () => {
  it.each([
    ['i-0123456789abcdef0', true],
    ['i-1234abcd', true],
    ['i-0123456789abcdef01', false],
    ['i-1234abc', false],
    ['i-0123456789ABCDEF0', false],
    ['x-0123456789abcdef0', false],
  ])('%s is an instance id: %s', (id, expected) => {
    expect(isEc2InstanceId(id)).toBe(expected);
  });

  it.each([
    ['Terminating EC2 instance: i-0123456789abcdef0', 'i-0123456789abcdef0'],
    ['Launching a new EC2 instance: i-1234abcd.  Status Reason: …', 'i-1234abcd'],
    ['At 2026-05-14T19:01:00Z an instance was taken out of service', undefined],
    ['instance i-0123456789abcdef0123 (too long)', undefined],
  ])('finds the id in %j', (text, expected) => {
    expect(findEc2InstanceId(text)).toBe(expected);
  });
});
