/**
 * The observer's side of the verdict channel (src/prober/verdict-queue.ts) against a real SQS
 * emulator (fauxqs) with the real SDK client: a round's verdicts in one message, the groups it
 * cannot reach riding along, a refused send failing every verdict it carried (so the prober sends
 * them again), and a stop sending what waits at once instead of dropping it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportUnreachable, verdictQueueSink } from '../../src/prober/verdict-queue.js';
import { TypedEvents } from '../../src/events.js';
import type { ProberEvents } from '../../src/prober/types.js';
import { parseEvent } from '../../src/signals/index.js';
import { probeSignal } from '../../src/signals/probe.js';
import { startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';

let q: FauxqsFixture;
beforeAll(async () => {
  q = await startFauxqs();
});
afterAll(async () => {
  await q?.stop();
});

const signal = (n: number, healthy = false) =>
  probeSignal({ instanceId: `i-${String(n).padStart(17, '0')}`, healthy, target: `http://10.0.0.${n}:80/health`, observedAt: '2026-03-14T09:15:02.000Z', detail: 'timeout', sequence: n, observer: 'obs-a' });

/** Every message now in the queue, read and parsed as the healer reads them. */
async function drain(): Promise<{ bodies: Array<Record<string, unknown>>; parsed: ReturnType<typeof parseEvent> }> {
  const messages = [];
  for (let batch = await q.receive(); batch.length > 0; batch = await q.receive()) messages.push(...batch);
  return { bodies: messages.map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>), parsed: parseEvent({ Messages: messages }) };
}

describe('the verdict queue sink', () => {
  it("sends a window's verdicts, healthy ones too, as one envelope; every send settles when SQS accepts it", async () => {
    // Prepare
    const sent: number[] = [];
    const { sink } = verdictQueueSink({ client: q.sqs, queueUrl: q.queueUrl, observer: 'obs-a', windowMs: 50, onSent: (m) => sent.push(m.verdicts) });
    const abort = new AbortController();

    // Act
    await Promise.all([signal(1), signal(2), signal(3, true)].map((s) => sink(s, { signal: abort.signal })));

    // Assess
    const { bodies, parsed } = await drain();
    expect(sent).toEqual([3]);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({ kind: 'autoheal.verdicts', version: 1, observer: 'obs-a' });
    expect(parsed.rejected).toEqual([]);
    expect(parsed.signals.map((s) => [s.instanceId, s.state, s.eventId])).toEqual([
      [signal(1).instanceId, 'unhealthy', signal(1).eventId],
      [signal(2).instanceId, 'unhealthy', signal(2).eventId],
      [signal(3).instanceId, 'healthy', signal(3).eventId],
    ]);
  });

  it('reports the groups it cannot reach at once and with each heartbeat, alone or beside verdicts', async () => {
    // Prepare
    const queue = verdictQueueSink({ client: q.sqs, queueUrl: q.queueUrl, observer: 'obs-a', windowMs: 50 });
    const events = new TypedEvents<ProberEvents>(() => {});
    const beat = reportUnreachable(queue, events);

    // Act: found unreachable (an event), then a heartbeat while it lasts, then a beat with none.
    events.emit('prober:group:unreachable', { observer: 'obs-a', group: 'dark', targets: 2, reason: 'never answered', atMs: Date.UTC(2026, 2, 14) });
    const base = { observer: 'obs-a', degraded: false, reasons: [], targets: 2, probed: 2, unhealthy: 2, worstLatenessMs: 0, discoveryFailing: false, atMs: 0 };
    await beat({ ...base, unreachable: [{ group: 'dark', sinceMs: Date.UTC(2026, 2, 14) }] });
    await beat({ ...base, unreachable: [] });

    // Assess
    const { bodies, parsed } = await drain();
    expect(bodies.map((b) => b.verdicts)).toEqual([[]]);
    expect(parsed.observerReports).toEqual([expect.objectContaining({ observer: 'obs-a', group: 'dark', since: '2026-03-14T00:00:00.000Z' })]);
  });

  it('a send SQS refuses fails every verdict it carried, so the prober sends them again', async () => {
    // Prepare
    const { sink } = verdictQueueSink({ client: q.sqs, queueUrl: q.queueUrl.replace(/[^/]+$/, 'no-such-queue'), observer: 'obs-a', windowMs: 20 });
    const abort = new AbortController();

    // Act
    const results = await Promise.allSettled([signal(1), signal(2)].map((s) => sink(s, { signal: abort.signal })));

    // Assess
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('drain sends what waits now and settles once SQS has it (the end of an observer run)', async () => {
    // Prepare
    const queue = verdictQueueSink({ client: q.sqs, queueUrl: q.queueUrl, observer: 'obs-a', windowMs: 3_600_000 });
    const pending = queue.sink(signal(6, true), { signal: new AbortController().signal });

    // Act
    await queue.drain();

    // Assess
    await pending;
    const { parsed } = await drain();
    expect(parsed.signals.map((s) => [s.instanceId, s.state])).toEqual([[signal(6).instanceId, 'healthy']]);
  });

  it('a stop sends what waits at once, without waiting for the window', async () => {
    // Prepare: a window far longer than the test.
    const { sink } = verdictQueueSink({ client: q.sqs, queueUrl: q.queueUrl, observer: 'obs-a', windowMs: 3_600_000 });
    const abort = new AbortController();
    const pending = Promise.all([signal(4), signal(5)].map((s) => sink(s, { signal: abort.signal })));

    // Act
    abort.abort(new Error('prober stopped'));
    await pending;

    // Assess
    const { parsed } = await drain();
    expect(parsed.signals.map((s) => s.instanceId)).toEqual([signal(4).instanceId, signal(5).instanceId]);
  });
});
