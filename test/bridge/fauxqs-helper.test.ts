import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { eventually, withFauxqs } from '../helpers/fauxqs.js';

describe('withFauxqs', () => {
  it('delivers a topic publish to the queue in an SNS envelope, with unresolvable queue URLs handled', async () => {
    await withFauxqs({}, async (q) => {
      // Prepare
      expect(q.queueUrl).toContain('sqs.us-east-1.127.0.0.1');

      // Act
      const snsId = await q.publish('{"AlarmName":"x"}');
      const [message] = await eventually(async () => {
        const got = await q.receive();
        return got.length > 0 ? got : undefined;
      }, 'the published message');

      // Assess
      const envelope = JSON.parse(message?.Body ?? '{}') as { Type: string; MessageId: string; Message: string };
      expect(envelope).toMatchObject({ Type: 'Notification', MessageId: snsId, Message: '{"AlarmName":"x"}' });
    });
  });

  it('moves a message past maxReceiveCount to the dead-letter queue', async () => {
    await withFauxqs({ deadLetter: { maxReceiveCount: 1 } }, async (q) => {
      // Prepare
      await q.send(['poison']);
      const [first] = await q.receive();
      await q.sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: q.queueUrl, ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 0 }),
      );

      // Act
      const again = await q.receive();
      const dead = await q.receive(q.dlqUrl);

      // Assess
      expect(again).toHaveLength(0);
      expect(dead.map((m) => m.Body)).toEqual(['poison']);
    });
  });
});
