/**
 * The verdict envelope: a round's verdicts of one observer in one message, read back into probe
 * signals (the claimed observer, the channel's SenderId beside it) and reports of groups the
 * observer cannot reach; split only at SQS's size; every rejection names its place.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEvent, verdictEntryOf, verdictMessages, type VerdictBatch, type VerdictEntry } from '../../src/signals/index.js';
import { probeSignal } from '../../src/signals/probe.js';
import { maxVerdictsPerEnvelope, verdictMessageMaxBytes } from '../../src/signals/verdicts.js';

const fixture = readFileSync(new URL('../fixtures/events/lambda-sqs-event.verdict-envelope.json', import.meta.url), 'utf8');

const entry = (n: number, state: 'healthy' | 'unhealthy' = 'unhealthy', reason = `http://10.0.0.${n % 250}:80/health: 2 consecutive failures: timeout after 1000 ms`): VerdictEntry => ({
  instanceId: `i-${n.toString(16).padStart(17, '0')}`,
  state,
  sequence: n,
  observedAt: '2026-03-14T09:15:02.000Z',
  reason,
});

const batch = (verdicts: VerdictEntry[]): VerdictBatch => ({
  observer: 'observer-eu-west-1a',
  sentAt: '2026-03-14T09:15:03.000Z',
  verdicts,
  unreachable: [{ group: 'batch', since: '2026-03-14T09:14:00.000Z', reason: 'never answered' }],
});

/** An SQS record as Lambda hands it, with the body and the sender SQS saw. */
const record = (body: string, i = 0, senderId = 'AROAEXAMPLE:observer-a') => ({
  messageId: `m-${i}`,
  receiptHandle: `rh-${i}`,
  body,
  attributes: { SenderId: senderId, ApproximateReceiveCount: '1' },
  eventSource: 'aws:sqs',
});

describe('the verdict envelope', () => {
  it('reads the fixture: the claimed observer, the SenderId as sender, and the unreachable group as a report', () => {
    // Act
    const result = parseEvent(JSON.parse(fixture));

    // Assess
    expect(result.rejected).toEqual([]);
    expect(result.observerReports).toEqual([
      {
        observer: 'observer-us-east-1a',
        group: 'batch-workers',
        since: '2024-03-14T09:14:40.000Z',
        reason: "none of the group's 2 instances has ever answered this observer: its security group or route, not the instances",
        sender: 'AROAEXAMPLEOBSERVERA:autoheal-observer-us-east-1a',
        recordId: '5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c',
      },
    ]);
  });

  it('round-trips a round: the signals the observer made are the signals the healer reads, with the sender added', () => {
    // Prepare: the observer's signals, as probeSignal makes them.
    const signals = [1, 2, 3].map((n) =>
      probeSignal({ instanceId: entry(n).instanceId, healthy: n === 2, target: 'http://10.0.0.1:80/health', observedAt: '2026-03-14T09:15:02.000Z', detail: 'why', sequence: n, observer: 'observer-eu-west-1a' }),
    );
    const [body] = verdictMessages({ observer: 'observer-eu-west-1a', sentAt: '2026-03-14T09:15:03.000Z', verdicts: signals.map((s, i) => verdictEntryOf(s, i + 1)) });

    // Act
    const result = parseEvent({ Records: [record(body ?? '')] });

    // Assess
    expect(result.signals).toEqual(signals.map((s) => ({ ...s, sender: 'AROAEXAMPLE:observer-a', recordId: 'm-0' })));
    expect(result.observerReports).toBeUndefined();
  });

  it('reads the SDK ReceiveMessage shape (Attributes.SenderId) and an envelope published to SNS (no sender: the topic is the channel there)', () => {
    // Prepare
    const [body = ''] = verdictMessages(batch([entry(1)]));

    // Act
    const sdk = parseEvent({ Messages: [{ MessageId: 'x', ReceiptHandle: 'r', Body: body, Attributes: { SenderId: 'AROAEXAMPLE:observer-b' } }] });
    const viaSns = parseEvent({ Type: 'Notification', MessageId: 'sns-1', TopicArn: 'arn:aws:sns:eu-west-1:111122223333:t', Message: body });

    // Assess
    expect(sdk.signals[0]).toMatchObject({ observer: 'observer-eu-west-1a', sender: 'AROAEXAMPLE:observer-b', recordId: 'x' });
    expect(viaSns.signals[0]).toMatchObject({ observer: 'observer-eu-west-1a', source: 'probe' });
    expect(viaSns.signals[0]?.sender).toBeUndefined();
    expect(viaSns.observerReports?.[0]?.sender).toBeUndefined();
  });

  it('ignores a SenderId that is not one (too long, or with characters no IAM id has)', () => {
    // Prepare
    const [body = ''] = verdictMessages(batch([entry(1)]));

    // Act / Assess
    for (const senderId of ['x'.repeat(257), 'AROA EXAMPLE', '']) expect(parseEvent({ Records: [record(body, 0, senderId)] }).signals[0]?.sender).toBeUndefined();
  });

  it('is one message for a round, split only beyond SQS\'s 256 KiB, every verdict in exactly one message', () => {
    // Prepare: 3,000 verdicts with long reasons, about 1.3 MB.
    const verdicts = Array.from({ length: 3_000 }, (_, n) => entry(n, n % 3 === 0 ? 'healthy' : 'unhealthy', `${'x'.repeat(300)} é ${n}`));

    // Act
    const one = verdictMessages(batch(verdicts.slice(0, 100)));
    const many = verdictMessages(batch(verdicts));

    // Assess
    expect(one).toHaveLength(1);
    expect(many.length).toBeGreaterThan(4);
    for (const m of many) expect(Buffer.byteLength(m, 'utf8')).toBeLessThanOrEqual(verdictMessageMaxBytes);
    // Full: a message holds within one verdict of the limit.
    for (const m of many.slice(0, -1)) expect(Buffer.byteLength(m, 'utf8')).toBeGreaterThan(verdictMessageMaxBytes - 500);
    const parsed = many.map((m) => parseEvent(m));
    expect(parsed.flatMap((p) => p.signals.map((s) => s.instanceId))).toEqual(verdicts.map((v) => v.instanceId));
    expect(parsed.map((p) => p.observerReports?.length ?? 0)).toEqual([1, ...many.slice(1).map(() => 0)]);
    expect(parsed.flatMap((p) => p.rejected)).toEqual([]);
    // Nothing to say is still one message (an empty round is the caller's to skip).
    expect(verdictMessages({ observer: 'o', sentAt: '2026-03-14T09:15:03.000Z', verdicts: [] })).toHaveLength(1);
  });

  it('splits at any size it is given, keeping every verdict once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 600, max: 4_000 }), (count, maxBytes) => {
        const verdicts = Array.from({ length: count }, (_, n) => entry(n));
        const messages = verdictMessages({ observer: 'o', sentAt: '2026-03-14T09:15:03.000Z', verdicts }, maxBytes);
        for (const m of messages) expect(Buffer.byteLength(m, 'utf8')).toBeLessThanOrEqual(maxBytes);
        expect(messages.flatMap((m) => parseEvent(m).signals.map((s) => s.instanceId))).toEqual(verdicts.map((v) => v.instanceId));
      }),
      { numRuns: 100 },
    );
  });

  it('rejects what it cannot use, naming the place, and keeps the good verdicts of the envelope', () => {
    // Prepare
    const good = entry(1);
    const env = (change: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(verdictMessages(batch([good]))[0] ?? '{}'), ...change });
    const reasons = (change: Record<string, unknown>): string[] => parseEvent({ Records: [record(env(change))] }).rejected.map((r) => r.reason);

    // Act / Assess: the envelope as a whole.
    expect(reasons({ version: 2 })).toEqual(['Records[0].body.version: "2" is not a version this healer reads (1)']);
    expect(reasons({ version: undefined })).toEqual(['Records[0].body.version: missing (1)']);
    expect(reasons({ observer: 'zone/a' })).toEqual(['Records[0].body.observer: "zone/a" is not an observer name (1 to 64 letters, digits and . _ : @ -)']);
    expect(reasons({ observer: 7 })).toEqual(['Records[0].body.observer: expected a string, got number']);
    expect(reasons({ sentAt: 'yesterday' })).toEqual(['Records[0].body.sentAt: not an ISO 8601 timestamp']);
    expect(reasons({ verdicts: undefined })).toEqual(['Records[0].body.verdicts: missing']);
    expect(reasons({ verdicts: {} })).toEqual(['Records[0].body.verdicts: expected an array, got object']);
    expect(reasons({ unreachable: 'web' })).toEqual(['Records[0].body.unreachable: expected an array, got string']);

    // Each verdict and report on its own.
    const bad = [
      'nope',
      { ...good, instanceId: undefined },
      { ...good, instanceId: 'web-1' },
      { ...good, state: 'ALARM' },
      { ...good, state: undefined },
      { ...good, sequence: -1 },
      { ...good, sequence: '4' },
      { ...good, observedAt: 'now' },
      { ...good, reason: '' },
      good,
      { ...good, instanceId: entry(2).instanceId, observedAt: undefined },
    ];
    const result = parseEvent({ Records: [record(env({ verdicts: [good, ...bad], unreachable: [7, { group: '' }, { group: 'x'.repeat(256) }, { group: 'g', since: 'soon' }, { group: 'g' }] }))] });
    expect(result.rejected.map((r) => r.reason)).toEqual([
      'Records[0].body.verdicts[1]: expected an object, got string',
      'Records[0].body.verdicts[2].instanceId: missing',
      'Records[0].body.verdicts[3].instanceId: "web-1" is not an EC2 instance id (i- and 8 or 17 hex digits)',
      'Records[0].body.verdicts[4].state: "ALARM" is not healthy or unhealthy',
      'Records[0].body.verdicts[5].state: missing',
      'Records[0].body.verdicts[6].sequence: expected a whole number, got number',
      'Records[0].body.verdicts[7].sequence: expected a whole number, got string',
      'Records[0].body.verdicts[8].observedAt: not an ISO 8601 timestamp',
      'Records[0].body.verdicts[9].reason: missing',
      `Records[0].body.verdicts[10].instanceId: ${good.instanceId} has an earlier verdict in this envelope; the first counts`,
      'Records[0].body.unreachable[0]: expected an object, got number',
      'Records[0].body.unreachable[1].group: missing',
      'Records[0].body.unreachable[2].group: longer than 255 characters',
      'Records[0].body.unreachable[3].since: not an ISO 8601 timestamp',
    ]);
    expect(result.rejected.every((r) => r.recordId === 'm-0')).toBe(true);
    // The good verdict, and the one whose time defaults to the envelope's.
    expect(result.signals.map((s) => [s.instanceId, s.observedAt])).toEqual([
      [good.instanceId, good.observedAt],
      [entry(2).instanceId, '2026-03-14T09:15:03.000Z'],
    ]);
    expect(result.observerReports).toEqual([{ observer: 'observer-eu-west-1a', group: 'g', since: '2026-03-14T09:15:03.000Z', reason: 'unreachable', sender: 'AROAEXAMPLE:observer-a', recordId: 'm-0' }]);
  });

  it('reads at most 10,000 verdicts and reports of one envelope, and says so', () => {
    // Prepare
    const many = Array.from({ length: maxVerdictsPerEnvelope + 2 }, (_, n) => entry(n));
    const reports = Array.from({ length: maxVerdictsPerEnvelope + 1 }, (_, n) => ({ group: `g${n}` }));

    // Act
    const result = parseEvent({ kind: 'autoheal.verdicts', version: 1, observer: 'o', sentAt: '2026-03-14T09:15:03.000Z', verdicts: many, unreachable: reports });

    // Assess
    expect(result.signals).toHaveLength(maxVerdictsPerEnvelope);
    expect(result.observerReports).toHaveLength(maxVerdictsPerEnvelope);
    expect(result.rejected.map((r) => r.reason)).toEqual([
      'verdicts: 10002 entries; only the first 10000 are read',
      'unreachable: 10001 entries; only the first 10000 are read',
    ]);
  });

  it('never throws on a mutated envelope', () => {
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.oneof(fc.constant('autoheal.verdicts'), fc.string()),
          version: fc.oneof(fc.constant(1), fc.jsonValue()),
          observer: fc.oneof(fc.constant('observer-a'), fc.jsonValue()),
          sentAt: fc.oneof(fc.constant('2026-03-14T09:15:03.000Z'), fc.jsonValue()),
          verdicts: fc.oneof(fc.array(fc.oneof(fc.constant(entry(1) as unknown), fc.jsonValue(), fc.dictionary(fc.constantFrom('instanceId', 'state', 'sequence', 'observedAt', 'reason'), fc.jsonValue()))), fc.jsonValue()),
          unreachable: fc.oneof(fc.array(fc.jsonValue()), fc.jsonValue()),
        }),
        (env) => {
          const result = parseEvent({ Records: [record(JSON.stringify(env))] });
          expect(Array.isArray(result.signals) && Array.isArray(result.rejected)).toBe(true);
          for (const s of result.signals) expect(s.source).toBe('probe');
        },
      ),
      { numRuns: 300 },
    );
  });
});
