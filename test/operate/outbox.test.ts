/**
 * The notices' outbox with stand-in publishers: one that fails and is retried, one that never
 * answers, a slow one. What is asserted is what was published and in what order things settled,
 * never how long anything took.
 */
import { describe, expect, it } from 'vitest';
import { toRemoteError } from '../../src/errors.js';
import { holdNotice, type Notice } from '../../src/operate/notices.js';
import { createOutbox } from '../../src/operate/outbox.js';
import { capturedLogger } from '../helpers/log-lines.js';

const throttled = () => toRemoteError('sns:Publish', Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));

describe('the notices\' outbox', () => {
  it('a publish SNS refuses with throttling is retried until it goes, and the key stays claimed meanwhile: one notice, however many come', async () => {
    // Prepare
    const calls: string[] = [];
    let refusals = 2;
    const outbox = createOutbox({
      publish: async (n) => {
        calls.push(n.subject);
        if (refusals-- > 0) throw throttled();
      },
      retryDelayMs: 5,
    });

    // Act: the first notice, then ten more of its key while it is being retried.
    const first = outbox.submit(holdNotice('g', 'budgetSpent', 'd'));
    await Promise.all(Array.from({ length: 10 }, () => outbox.submit(holdNotice('g', 'budgetSpent', 'd'))));
    await first;

    // Assess
    expect(calls).toEqual(Array(3).fill('autoheal: HOLD budgetSpent g'));
    expect(outbox.counts).toEqual({ published: 1, deduplicated: 10, failed: 0, unknown: 0, dropped: 0 });
  });

  it('gives up after its attempts, and the key stays claimed: a failing SNS never turns one notice into many', async () => {
    const calls: Notice[] = [];
    const outbox = createOutbox<Notice>({ publish: async (n) => (calls.push(n), Promise.reject(throttled())), retryDelayMs: 1, attempts: 2 });
    await outbox.submit(holdNotice('g', 'frozen', 'd'));
    await outbox.submit(holdNotice('g', 'frozen', 'd'));
    expect(calls).toHaveLength(2);
    expect(outbox.counts).toMatchObject({ published: 0, failed: 1, deduplicated: 1 });
  });

  it('a publish nothing answers is settled at its bound, never retried (SNS may have taken it), and flush never waits past its own bound', async () => {
    // Prepare
    const { logger, lines } = capturedLogger();
    let calls = 0;
    const outbox = createOutbox({ publish: () => (calls++, new Promise<void>(() => {})), publishTimeoutMs: 200, logger });
    const order: string[] = [];

    // Act
    const settled = outbox.submit(holdNotice('g', 'paused', undefined)).then(() => order.push('settled'));
    await outbox.flush(20).then(() => order.push('flushed'));
    await settled;
    await outbox.submit(holdNotice('g', 'paused', undefined));

    // Assess
    expect(order).toEqual(['flushed', 'settled']);
    expect(calls).toBe(1);
    expect(outbox.counts).toEqual({ published: 0, deduplicated: 1, failed: 0, unknown: 1, dropped: 0 });
    expect(lines.find((l) => l.msg === 'notice publish unanswered (not retried: it may have gone)')).toMatchObject({ reason: 'paused', error: expect.stringMatching(/no answer within 200 ms/) });
  });

  it('a connection lost before an answer is not retried either', async () => {
    let calls = 0;
    const outbox = createOutbox({ publish: async () => (calls++, Promise.reject(toRemoteError('sns:Publish', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })))), retryDelayMs: 1 });
    await outbox.submit(holdNotice('g', 'frozen', 'd'));
    expect(calls).toBe(1);
    expect(outbox.counts.unknown).toBe(1);
  });

  it('behind a silent SNS at most maxWaiting notices wait; the rest are dropped and counted', async () => {
    const outbox = createOutbox({ publish: () => new Promise<void>(() => {}), publishTimeoutMs: 100, maxWaiting: 2 });
    const keys = ['a', 'b', 'c', 'd', 'e'].map((g) => outbox.submit(holdNotice(g, 'frozen', 'd')));
    await Promise.all(keys);
    // One in flight, two waiting, two dropped.
    expect(outbox.counts).toEqual({ published: 0, deduplicated: 0, failed: 0, unknown: 3, dropped: 2 });
  });

  it('a slow SNS: sixty notices of three keys, interleaved, publish three', async () => {
    const calls: string[] = [];
    const outbox = createOutbox({ publish: async (n) => (calls.push(n.subject), new Promise<void>((r) => setTimeout(r, 30))) });
    await Promise.all(Array.from({ length: 60 }, (_, k) => outbox.submit(holdNotice('g', (['frozen', 'budgetSpent', 'rateLimited'] as const)[k % 3] as 'frozen', 'd'))));
    expect(calls.sort()).toEqual(['autoheal: HOLD budgetSpent g', 'autoheal: HOLD frozen g', 'autoheal: HOLD rateLimited g']);
    expect(outbox.counts).toMatchObject({ published: 3, deduplicated: 57 });
  });
});
