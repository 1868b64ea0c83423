/**
 * An in-memory queue behind the bridge's QueuePort, for tests that run on vitest's fake timers
 * (fauxqs answers over real sockets and real time). It keeps SQS's rules that the bridge relies
 * on: a received message is hidden for its visibility timeout and comes back after it with its
 * receive count raised; ChangeMessageVisibility moves that moment; a deleted message is gone; a
 * receive with nothing visible waits up to its WaitTimeSeconds for a message to arrive. Every
 * call is recorded with the (fake) time it was made, and any of them can be made to fail or hang.
 */
import type { DeleteFailure, QueueInfo, QueuePort, ReceiveRequest, ReceivedMessage } from '../../src/bridge/queue.js';

interface Stored {
  messageId: string;
  body: string;
  receiveCount: number;
  /** Hidden until this time (ms since the epoch); visible when it has passed. */
  visibleAt: number;
  receiptHandle: string;
}

/** What the next call of a kind does instead of its work. */
type Fault = { kind: 'fail'; error: Error } | { kind: 'hang' };

export interface Call {
  at: number;
  action: 'receive' | 'changeVisibility' | 'deleteBatch';
  messageIds: string[];
  /** The visibility timeout a ChangeMessageVisibility set. */
  seconds?: number;
}

export class FakeQueue implements QueuePort {
  readonly url = 'https://sqs.us-east-1.amazonaws.com/123456789012/alarms';
  readonly calls: Call[] = [];
  private readonly stored = new Map<string, Stored>();
  private readonly faults: Record<Call['action'], Fault[]> = { receive: [], changeVisibility: [], deleteBatch: [] };
  private readonly waiting = new Set<() => void>();
  private sent = 0;
  private handles = 0;

  constructor(readonly info: QueueInfo = fakeQueueInfo()) {}

  /** Puts messages on the queue; returns their ids. */
  send(...bodies: string[]): string[] {
    const ids = bodies.map((body) => {
      const messageId = `m${++this.sent}`;
      this.stored.set(messageId, { messageId, body, receiveCount: 0, visibleAt: 0, receiptHandle: '' });
      return messageId;
    });
    this.wake();
    return ids;
  }

  /** The next `times` calls of `action` throw `error` (or, with `hang`, never settle and ignore their signal). */
  fail(action: Call['action'], error: Error, times = 1): this {
    for (let i = 0; i < times; i++) this.faults[action].push({ kind: 'fail', error });
    return this;
  }

  hang(action: Call['action'], times = 1): this {
    for (let i = 0; i < times; i++) this.faults[action].push({ kind: 'hang' });
    return this;
  }

  /** Messages on the queue: visible now, or hidden (in flight or waiting out a backoff). */
  depth(): { visible: number; hidden: number } {
    const now = Date.now();
    let visible = 0;
    for (const m of this.stored.values()) if (m.visibleAt <= now) visible++;
    return { visible, hidden: this.stored.size - visible };
  }

  /** When a message becomes visible again, if it is still on the queue. */
  visibleAt(messageId: string): number | undefined {
    return this.stored.get(messageId)?.visibleAt;
  }

  callsOf(action: Call['action']): Call[] {
    return this.calls.filter((c) => c.action === action);
  }

  async describe(): Promise<QueueInfo> {
    return this.info;
  }

  async receive(request: ReceiveRequest, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    this.calls.push({ at: Date.now(), action: 'receive', messageIds: [] });
    await this.fault('receive');
    await this.waitForMessages(request.waitSeconds * 1000, signal);
    signal?.throwIfAborted();
    const visibility = (request.visibilityTimeoutSeconds ?? this.info.visibilityTimeoutSeconds) * 1000;
    return this.visible()
      .slice(0, request.maxMessages)
      .map((m) => {
        m.receiveCount++;
        m.visibleAt = Date.now() + visibility;
        m.receiptHandle = `rh-${m.messageId}-${++this.handles}`;
        return {
          messageId: m.messageId,
          receiptHandle: m.receiptHandle,
          body: m.body,
          receiveCount: m.receiveCount,
          attributes: { ApproximateReceiveCount: String(m.receiveCount) },
          messageAttributes: {},
        };
      });
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void> {
    const m = this.byHandle(receiptHandle);
    this.calls.push({ at: Date.now(), action: 'changeVisibility', messageIds: m ? [m.messageId] : [], seconds: visibilityTimeoutSeconds });
    await this.fault('changeVisibility');
    if (!m) throw Object.assign(new Error('the receipt handle has expired'), { name: 'ReceiptHandleIsInvalid' });
    m.visibleAt = Date.now() + visibilityTimeoutSeconds * 1000;
    // A long poll out looks again: the message may now be visible, or sooner than it thought.
    this.wake();
  }

  async deleteBatch(receiptHandles: readonly string[]): Promise<DeleteFailure[]> {
    const found = receiptHandles.map((h) => this.byHandle(h));
    this.calls.push({ at: Date.now(), action: 'deleteBatch', messageIds: found.flatMap((m) => (m ? [m.messageId] : [])) });
    await this.fault('deleteBatch');
    for (const m of found) if (m) this.stored.delete(m.messageId);
    return [];
  }

  private visible(): Stored[] {
    const now = Date.now();
    return [...this.stored.values()].filter((m) => m.visibleAt <= now);
  }

  private byHandle(receiptHandle: string): Stored | undefined {
    return [...this.stored.values()].find((m) => m.receiptHandle === receiptHandle);
  }

  private async fault(action: Call['action']): Promise<void> {
    const fault = this.faults[action].shift();
    if (fault?.kind === 'fail') throw fault.error;
    if (fault?.kind === 'hang') await new Promise<never>(() => {});
  }

  /** The soonest a hidden message becomes visible again. */
  private nextVisibleAt(): number | undefined {
    let next: number | undefined;
    for (const m of this.stored.values()) if (next === undefined || m.visibleAt < next) next = m.visibleAt;
    return next;
  }

  /** A long poll: until a message is visible, the wait is over, or the caller aborts. */
  private async waitForMessages(ms: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.visible().length === 0 && Date.now() < deadline) {
      await this.sleepUntil(Math.min(deadline, this.nextVisibleAt() ?? deadline), signal);
    }
  }

  /** Until `at`, or a message is sent or released (the caller looks again), or the caller aborts. */
  private sleepUntil(at: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiting.delete(woken);
        signal?.removeEventListener('abort', onAbort);
      };
      const woken = (): void => {
        finish();
        resolve();
      };
      const onAbort = (): void => {
        finish();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const timer = setTimeout(woken, Math.max(0, at - Date.now()));
      this.waiting.add(woken);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wake(): void {
    for (const woken of [...this.waiting]) woken();
  }
}

export function fakeQueueInfo(overrides: Partial<QueueInfo> = {}): QueueInfo {
  return {
    queueArn: 'arn:aws:sqs:us-east-1:123456789012:alarms',
    visibilityTimeoutSeconds: 30,
    redrivePolicy: { deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:alarms-dlq', maxReceiveCount: 5 },
    ...overrides,
  };
}
