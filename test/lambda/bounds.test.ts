/**
 * Bounded output: one event of a million bad records must not write a million log lines or answer
 * with a summary of tens of megabytes (the Lambda's logs and its response are both capped).
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { createHandler, type HealSummary } from '../../src/lambda/handler.js';
import { capturedLogger } from '../helpers/log-lines.js';

describe('the Lambda handler, bounded', () => {
  it('a body of 1,000,000 records without a signal: at most 100 rejections listed and logged, the rest counted', async () => {
    // Prepare: no record names an instance, so no AWS call is made (the mock answers nothing).
    const autoScaling = new AutoScalingClient({ region: 'eu-west-1' });
    mockClient(autoScaling);
    const { logger, lines } = capturedLogger();
    const handler = createHandler({ config: resolveSettings({}, {}), autoScaling, alarmOptions: {}, logger, instanceFacts: async () => new Map() });
    const event = { Records: Array.from({ length: 1_000_000 }, () => ({})) };

    // Act
    const out = (await handler(event)) as HealSummary;

    // Assess
    expect(out.rejected).toHaveLength(100);
    expect(out.rejectedOmitted).toBe(999_900);
    expect(JSON.stringify(out).length).toBeLessThan(64 * 1024);
    const rejectedLines = lines.filter((l) => String(l.msg).startsWith('rejected'));
    expect(rejectedLines).toHaveLength(101);
    expect(rejectedLines.at(-1)).toMatchObject({ omitted: 999_900, total: 1_000_000 });
  });
});
