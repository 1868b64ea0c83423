/**
 * The bridge's loop as a pure machine (src/bridge/machine.ts), table-driven: each row is a state,
 * an event and the moment it arrives, and the state and effects that must follow. No sockets, no
 * timers, no sleeps: the time is a number and chance a function that always answers 0.5.
 *
 * With random 0.5 the backoffs land at three quarters of their ceiling: a failed receive after n
 * failures in a row waits 0.75 × 100 × 2^n ms; a failed message with receive count c comes back
 * after round(0.75 × 2 × 2^(c − 1)) s with the default base of 2 s.
 */
import { describe, expect, it } from 'vitest';
import {
  extendIntervalMs,
  inFlight,
  initialMachine,
  publicState,
  step,
  timerKey,
  type BridgeMachine,
  type Effect,
  type MachineConfig,
  type MachineEvent,
  type MessageStep,
  type Mode,
  type Poll,
  type Report,
  type Timer,
  type Unit,
} from '../../src/bridge/machine.js';
import type { ReceivedMessage } from '../../src/bridge/queue.js';

/** Two slots, one message per receive: up to three receives out. */
const baseConfig: MachineConfig = {
  concurrency: 2,
  batchSize: 1,
  unitPerReceive: false,
  once: false,
  waitSeconds: 20,
  visibilityTimeoutSeconds: 30,
  stallMs: 35_000,
  shutdownTimeoutMs: 30_000,
  retryBaseMs: 2_000,
  retryMaxMs: 300_000,
  retryFloorMs: 0,
};

function msg(id: string, receiveCount = 1): ReceivedMessage {
  return { messageId: id, receiptHandle: `rh-${id}`, body: '{}', receiveCount, attributes: {}, messageAttributes: {} };
}
const [a, b, c, d] = [msg('a'), msg('b'), msg('c'), msg('d', 3)] as [ReceivedMessage, ReceivedMessage, ReceivedMessage, ReceivedMessage];

const poll = (maxMessages: number, startedAt = 0): Poll => ({ maxMessages, startedAt });

function delivering(messages: ReceivedMessage[], receivedAt = 0, extending: string[] = []): Unit {
  return { messages, receivedAt, stage: { name: 'delivering', extending: new Set(extending) } };
}

function settling(messages: ReceivedMessage[], steps: MessageStep[], receivedAt = 0): Unit {
  return { messages, receivedAt, stage: { name: 'settling', pending: new Map(steps.map((s) => [s.message.messageId, s])) } };
}

const deleting = (message: ReceivedMessage, reason?: string): MessageStep => ({
  name: 'deleting',
  message,
  outcome: reason === undefined ? { messageId: message.messageId, status: 'succeeded' } : { messageId: message.messageId, status: 'rejected', reason },
});

const retrying = (message: ReceivedMessage, retryInSeconds: number, retryable?: boolean): MessageStep => ({
  name: 'retrying',
  message,
  outcome: { messageId: message.messageId, status: 'failed', error: 'boom', ...(retryable === undefined ? {} : { retryable }) },
  retryInSeconds,
});

interface Given {
  config?: Partial<MachineConfig>;
  mode?: Mode;
  polls?: Array<[number, Poll]>;
  units?: Array<[number, Unit]>;
  releasing?: number;
  receiveFailures?: number;
  restarts?: number;
  nextId?: number;
}

/** A state; ids 1-3 are receives and 4-8 units in the rows, so new ones start at 9. */
function given(g: Given = {}): BridgeMachine {
  return {
    ...initialMachine({ ...baseConfig, ...g.config }),
    mode: g.mode ?? { name: 'receiving' },
    polls: new Map(g.polls ?? []),
    units: new Map(g.units ?? []),
    releasing: g.releasing ?? 0,
    receiveFailures: g.receiveFailures ?? 0,
    restarts: g.restarts ?? 0,
    nextId: g.nextId ?? 9,
  };
}

const r = (report: Report): Effect => ({ type: 'report', report });
const arm = (timer: Timer, ms: number): Effect => ({ type: 'arm', timer, ms });
const disarm = (timer: Timer): Effect => ({ type: 'disarm', timer });
const stall = (id: number): Timer => ({ kind: 'stall', poll: id });
const extend = (id: number): Timer => ({ kind: 'extend', unit: id });
const receive = (id: number, maxMessages = 1): Effect[] => [
  arm(stall(id), 35_000),
  { type: 'receive', poll: id, maxMessages, waitSeconds: 20, visibilityTimeoutSeconds: 30 },
];
const deliver = (id: number, messages: ReceivedMessage[]): Effect[] => [
  r({ type: 'in-flight', delta: messages.length }),
  arm(extend(id), 15_000),
  { type: 'deliver', unit: id, messages },
];
const backingOff: Mode = { name: 'backing-off', until: 99_000 };
const draining: Mode = { name: 'draining', reason: 'stopped' };

interface Row {
  name: string;
  state: BridgeMachine;
  event: MachineEvent;
  now?: number;
  effects: Effect[];
  mode: Mode;
  /** The books that must follow, where the row is about them. */
  then?: Partial<Omit<Given, 'config' | 'mode'>>;
}

const rows: Row[] = [
  // Receiving: the room is filled.
  {
    name: 'start: one receive per free slot',
    state: given({ nextId: 1 }),
    event: { type: 'start' },
    effects: [...receive(1), ...receive(2)],
    mode: { name: 'receiving' },
    then: { polls: [[1, poll(1, 1000)], [2, poll(1, 1000)]], nextId: 3 },
  },
  {
    name: 'start with concurrency 10 and batches of 10: one receive of 10',
    state: given({ config: { concurrency: 10, batchSize: 10 }, nextId: 1 }),
    event: { type: 'start' },
    effects: receive(1, 10),
    mode: { name: 'receiving' },
  },
  {
    name: 'no room and no receive out: waiting for capacity',
    state: given({ units: [[4, delivering([a, b])]] }),
    event: { type: 'start' },
    effects: [],
    mode: { name: 'waiting-for-capacity' },
  },
  {
    name: 'every receive slot taken: none more, even with room',
    state: given({ config: { concurrency: 4, batchSize: 4 }, polls: [[1, poll(1)], [2, poll(1)]] }),
    event: { type: 'start' },
    effects: [],
    mode: { name: 'receiving' },
  },
  {
    name: 'received: a unit per message, delivered, its visibility extension armed; the other receive out fills the room',
    state: given({ polls: [[1, poll(1)], [2, poll(1)]] }),
    event: { type: 'received', poll: 1, messages: [a] },
    effects: [disarm(stall(1)), r({ type: 'received', count: 1 }), ...deliver(9, [a])],
    mode: { name: 'receiving' },
    then: { polls: [[2, poll(1)]], units: [[9, delivering([a], 1000)]], nextId: 10 },
  },
  {
    name: 'received two for a target that takes batches: one unit',
    state: given({ config: { unitPerReceive: true, batchSize: 2 }, polls: [[1, poll(2)]] }),
    event: { type: 'received', poll: 1, messages: [a, b] },
    effects: [disarm(stall(1)), r({ type: 'received', count: 2 }), ...deliver(9, [a, b])],
    mode: { name: 'waiting-for-capacity' },
  },
  {
    name: 'received with a visibility timeout under 2 s: delivered, nothing to extend',
    state: given({ config: { visibilityTimeoutSeconds: 1 }, polls: [[1, poll(1)], [2, poll(1)]] }),
    event: { type: 'received', poll: 1, messages: [a] },
    effects: [disarm(stall(1)), r({ type: 'received', count: 1 }), r({ type: 'in-flight', delta: 1 }), { type: 'deliver', unit: 9, messages: [a] }],
    mode: { name: 'receiving' },
  },
  {
    name: 'received from a receive the watchdog abandoned: worked on all the same, and the failures in a row reset',
    state: given({ receiveFailures: 3 }),
    event: { type: 'received', poll: 1, messages: [a] },
    effects: [r({ type: 'received', count: 1 }), ...deliver(9, [a]), ...receive(10)],
    mode: { name: 'receiving' },
    then: { receiveFailures: 0 },
  },
  {
    name: 'received while draining: made visible again at once, not worked on',
    state: given({ mode: draining, units: [[4, delivering([c])]] }),
    event: { type: 'received', poll: 1, messages: [a] },
    effects: [r({ type: 'received', count: 1 }), { type: 'release', messages: [a] }],
    mode: draining,
    then: { releasing: 1 },
  },
  {
    name: 'received nothing while draining',
    state: given({ mode: draining, units: [[4, delivering([c])]] }),
    event: { type: 'received', poll: 1, messages: [] },
    effects: [r({ type: 'received', count: 0 })],
    mode: draining,
  },
  // `once`.
  {
    name: 'once: an empty receive with nothing in flight drains and stops',
    state: given({ config: { once: true }, polls: [[1, poll(1)]] }),
    event: { type: 'received', poll: 1, messages: [] },
    effects: [
      disarm(stall(1)),
      r({ type: 'received', count: 0 }),
      r({ type: 'stopping', reason: 'drained', inFlight: 0 }),
      arm({ kind: 'shutdown' }, 30_000),
      disarm({ kind: 'shutdown' }),
      { type: 'close' },
    ],
    mode: { name: 'closing', reason: 'drained', unfinished: 0 },
  },
  {
    name: 'once: an empty receive with work in flight waits for it before receiving again',
    state: given({ config: { once: true }, polls: [[1, poll(1)]], units: [[4, delivering([c])]] }),
    event: { type: 'received', poll: 1, messages: [] },
    effects: [disarm(stall(1)), r({ type: 'received', count: 0 })],
    mode: { name: 'waiting-for-in-flight' },
  },
  {
    name: 'once: an empty receive while backing off keeps backing off',
    state: given({ config: { once: true }, mode: backingOff, polls: [[1, poll(1)]], units: [[4, delivering([c])]] }),
    event: { type: 'received', poll: 1, messages: [] },
    effects: [disarm(stall(1)), r({ type: 'received', count: 0 })],
    mode: backingOff,
  },
  {
    name: 'once: the last unit settled, receiving resumes',
    state: given({ config: { once: true }, mode: { name: 'waiting-for-in-flight' }, units: [[4, settling([a], [deleting(a)])]] }),
    event: { type: 'deleted', unit: 4, messageId: 'a' },
    effects: [r({ type: 'outcome', message: a, ms: 1000, outcome: { status: 'succeeded' } }), r({ type: 'in-flight', delta: -1 }), ...receive(9), ...receive(10)],
    mode: { name: 'receiving' },
  },
  // Failed receives and the backoff.
  {
    name: 'a failed receive backs off, jittered; no receive starts meanwhile',
    state: given({ polls: [[1, poll(1)], [2, poll(1)]] }),
    event: { type: 'receive-failed', poll: 1, error: 'boom' },
    effects: [disarm(stall(1)), r({ type: 'receive-failed', error: 'boom', retryInMs: 150 }), arm({ kind: 'backoff' }, 150)],
    mode: { name: 'backing-off', until: 1150 },
    then: { receiveFailures: 1, polls: [[2, poll(1)]] },
  },
  {
    name: 'a receive past its bound is also a stage timeout; the backoff grows with the failures in a row',
    state: given({ polls: [[1, poll(1)]], receiveFailures: 2 }),
    event: { type: 'receive-failed', poll: 1, error: 'sqs:ReceiveMessage: no answer within 21000 ms', timeoutMs: 21_000 },
    effects: [
      disarm(stall(1)),
      r({ type: 'stage-timed-out', stage: 'receive', action: 'sqs:ReceiveMessage', timeoutMs: 21_000, messageIds: [], error: 'sqs:ReceiveMessage: no answer within 21000 ms' }),
      r({ type: 'receive-failed', error: 'sqs:ReceiveMessage: no answer within 21000 ms', retryInMs: 600 }),
      arm({ kind: 'backoff' }, 600),
    ],
    mode: { name: 'backing-off', until: 1600 },
    then: { receiveFailures: 3 },
  },
  {
    name: 'a second failure while backing off keeps the later end',
    state: given({ mode: { name: 'backing-off', until: 5000 }, polls: [[2, poll(1)]], receiveFailures: 1 }),
    event: { type: 'receive-failed', poll: 2, error: 'boom' },
    effects: [disarm(stall(2)), r({ type: 'receive-failed', error: 'boom', retryInMs: 300 }), arm({ kind: 'backoff' }, 4000)],
    mode: { name: 'backing-off', until: 5000 },
  },
  {
    name: 'the failure of an abandoned receive is its cancellation: ignored',
    state: given({ units: [[4, delivering([a, b])]] }),
    event: { type: 'receive-failed', poll: 1, error: 'aborted' },
    effects: [],
    mode: { name: 'waiting-for-capacity' },
    then: { receiveFailures: 0 },
  },
  {
    name: 'the backoff is over: receiving fills the room again',
    state: given({ mode: { name: 'backing-off', until: 1000 } }),
    event: { type: 'timer', timer: { kind: 'backoff' } },
    effects: [...receive(9), ...receive(10)],
    mode: { name: 'receiving' },
  },
  {
    name: 'a backoff timer that fired early waits the rest',
    state: given({ mode: { name: 'backing-off', until: 1500 } }),
    event: { type: 'timer', timer: { kind: 'backoff' } },
    effects: [arm({ kind: 'backoff' }, 500)],
    mode: { name: 'backing-off', until: 1500 },
  },
  {
    name: 'a backoff timer after the stop is ignored',
    state: given({ mode: draining, units: [[4, delivering([a])]] }),
    event: { type: 'timer', timer: { kind: 'backoff' } },
    effects: [],
    mode: draining,
  },
  // The watchdog.
  {
    name: 'a stalled receive: a stage timeout, every receive abandoned, a restart counted, fresh receives',
    state: given({ polls: [[1, poll(1, 0)], [2, poll(1, 500)]], restarts: 1 }),
    event: { type: 'timer', timer: stall(1) },
    now: 35_000,
    effects: [
      r({ type: 'stage-timed-out', stage: 'receive', action: 'sqs:ReceiveMessage', timeoutMs: 35_000, messageIds: [], error: 'a receive did not return in 35000 ms' }),
      disarm(stall(1)),
      disarm(stall(2)),
      { type: 'abandon-receives', polls: [1, 2], reason: 'the watchdog restarted the receive loop' },
      r({ type: 'loop-restarted', reason: 'a receive did not return in 35000 ms', restarts: 2 }),
      ...receive(9),
      ...receive(10),
    ],
    mode: { name: 'receiving' },
    then: { restarts: 2, polls: [[9, poll(1, 35_000)], [10, poll(1, 35_000)]] },
  },
  {
    name: 'the stall timer of a receive that returned is ignored',
    state: given({ polls: [[2, poll(1)]], units: [[4, delivering([a])]] }),
    event: { type: 'timer', timer: stall(1) },
    effects: [],
    mode: { name: 'receiving' },
    then: { restarts: 0 },
  },
  // Visibility extension.
  {
    name: 'half the visibility timeout while delivering: each message extended, none twice at once',
    state: given({ units: [[4, delivering([a, b], 0, ['b'])]] }),
    event: { type: 'timer', timer: extend(4) },
    effects: [{ type: 'extend', unit: 4, message: a, visibilityTimeoutSeconds: 30 }, arm(extend(4), 15_000)],
    mode: { name: 'waiting-for-capacity' },
    then: { units: [[4, delivering([a, b], 0, ['a', 'b'])]] },
  },
  {
    name: 'an extension tick after the target answered is ignored',
    state: given({ mode: backingOff, units: [[4, settling([a], [deleting(a)])]] }),
    event: { type: 'timer', timer: extend(4) },
    effects: [],
    mode: backingOff,
  },
  {
    name: 'a visibility timeout under 2 s is never extended',
    state: given({ config: { visibilityTimeoutSeconds: 1 }, mode: backingOff, units: [[4, delivering([a])]] }),
    event: { type: 'timer', timer: extend(4) },
    effects: [],
    mode: backingOff,
  },
  {
    name: 'an extension answered: reported, and the next tick may extend that message again',
    state: given({ units: [[4, delivering([a, b], 0, ['a'])]] }),
    event: { type: 'extended', unit: 4, messageId: 'a' },
    effects: [r({ type: 'visibility-extended', messageId: 'a', visibilityTimeoutSeconds: 30 })],
    mode: { name: 'waiting-for-capacity' },
    then: { units: [[4, delivering([a, b], 0, [])]] },
  },
  {
    name: 'an extension failed after its unit ended: reported',
    state: given({ mode: backingOff }),
    event: { type: 'extend-failed', unit: 4, messageId: 'a', error: 'throttled' },
    effects: [r({ type: 'visibility-failed', messageId: 'a', error: 'throttled' })],
    mode: backingOff,
  },
  // The target answers.
  {
    name: 'the target answered: succeeded and rejected deleted, failed and unanswered hidden for their backoff',
    state: given({ config: { unitPerReceive: true, concurrency: 4, batchSize: 4 }, mode: backingOff, units: [[4, delivering([a, b, c, d])]] }),
    event: {
      type: 'delivered',
      unit: 4,
      outcomes: [
        { messageId: 'a', status: 'succeeded' },
        { messageId: 'b', status: 'rejected', reason: 'not JSON' },
        { messageId: 'c', status: 'failed', error: 'boom', retryable: false },
      ],
    },
    effects: [
      disarm(extend(4)),
      { type: 'delete', unit: 4, message: a },
      { type: 'delete', unit: 4, message: b },
      { type: 'set-retry', unit: 4, message: c, retryInSeconds: 2 },
      { type: 'set-retry', unit: 4, message: d, retryInSeconds: 6 },
    ],
    mode: backingOff,
    then: {
      units: [
        [
          4,
          settling(
            [a, b, c, d],
            [
              deleting(a),
              deleting(b, 'not JSON'),
              retrying(c, 2, false),
              { name: 'retrying', message: d, outcome: { messageId: 'd', status: 'failed', error: 'the target reported no outcome' }, retryInSeconds: 6 },
            ],
          ),
        ],
      ],
    },
  },
  {
    name: 'the slot frees as soon as the target answered: a receive starts while the delete is out',
    state: given({ config: { concurrency: 1 }, mode: { name: 'waiting-for-capacity' }, units: [[4, delivering([a])]] }),
    event: { type: 'delivered', unit: 4, outcomes: [{ messageId: 'a', status: 'succeeded' }] },
    effects: [disarm(extend(4)), { type: 'delete', unit: 4, message: a }, ...receive(9)],
    mode: { name: 'receiving' },
  },
  {
    name: 'a late answer (after the deadline failed the unit) is ignored',
    state: given({ mode: backingOff, units: [[4, settling([a], [retrying(a, 2)])]] }),
    event: { type: 'delivered', unit: 4, outcomes: [{ messageId: 'a', status: 'succeeded' }] },
    effects: [],
    mode: backingOff,
  },
  {
    name: 'the target did not answer in time: a deliver timeout, its messages failed',
    state: given({ config: { visibilityTimeoutSeconds: 1 }, mode: backingOff, units: [[4, delivering([a])]] }),
    event: {
      type: 'delivery-failed',
      unit: 4,
      error: 'deliver to handler: no answer within 300 ms (--delivery-timeout-seconds)',
      timeout: { action: 'deliver to handler', timeoutMs: 300 },
    },
    effects: [
      r({
        type: 'stage-timed-out',
        stage: 'deliver',
        action: 'deliver to handler',
        timeoutMs: 300,
        messageIds: ['a'],
        error: 'deliver to handler: no answer within 300 ms (--delivery-timeout-seconds)',
      }),
      { type: 'set-retry', unit: 4, message: a, retryInSeconds: 2 },
    ],
    mode: backingOff,
  },
  {
    name: 'the target threw: its messages failed',
    state: given({ mode: backingOff, units: [[4, delivering([a])]] }),
    event: { type: 'delivery-failed', unit: 4, error: 'boom' },
    effects: [disarm(extend(4)), { type: 'set-retry', unit: 4, message: a, retryInSeconds: 2 }],
    mode: backingOff,
    then: { units: [[4, settling([a], [retrying(a, 2)])]] },
  },
  {
    name: 'a failed delivery of a unit no longer known is ignored',
    state: given({ mode: backingOff }),
    event: { type: 'delivery-failed', unit: 4, error: 'aborted' },
    effects: [],
    mode: backingOff,
  },
  // Settling.
  {
    name: 'the backoff was set: failed, with whether retrying can help; the unit ends',
    state: given({ mode: backingOff, units: [[4, settling([c], [retrying(c, 2, false)])]] }),
    event: { type: 'retry-set', unit: 4, messageId: 'c' },
    effects: [
      r({ type: 'outcome', message: c, ms: 1000, outcome: { status: 'failed', error: 'boom', retryInSeconds: 2, retryable: false } }),
      r({ type: 'in-flight', delta: -1 }),
    ],
    mode: backingOff,
    then: { units: [] },
  },
  {
    name: 'the backoff could not be set: said so, and still failed (it comes back after the visibility timeout)',
    state: given({ mode: backingOff, units: [[4, settling([c], [retrying(c, 2)])]] }),
    event: { type: 'retry-not-set', unit: 4, messageId: 'c', error: 'no answer' },
    effects: [
      r({ type: 'retry-not-set', messageId: 'c', error: 'no answer' }),
      r({ type: 'outcome', message: c, ms: 1000, outcome: { status: 'failed', error: 'boom', retryInSeconds: 2 } }),
      r({ type: 'in-flight', delta: -1 }),
    ],
    mode: backingOff,
  },
  {
    name: 'deleted: succeeded once SQS confirmed; the unit waits for its other messages',
    state: given({ mode: backingOff, units: [[4, settling([a, b], [deleting(a), deleting(b, 'not JSON')])]] }),
    event: { type: 'deleted', unit: 4, messageId: 'a' },
    effects: [r({ type: 'outcome', message: a, ms: 1000, outcome: { status: 'succeeded' } })],
    mode: backingOff,
    then: { units: [[4, settling([a, b], [deleting(b, 'not JSON')])]] },
  },
  {
    name: 'deleted: rejected with the reason; the unit ends with all its messages',
    state: given({ mode: backingOff, units: [[4, settling([a, b], [deleting(b, 'not JSON')], 400)]] }),
    event: { type: 'deleted', unit: 4, messageId: 'b' },
    effects: [r({ type: 'outcome', message: b, ms: 600, outcome: { status: 'rejected', reason: 'not JSON' } }), r({ type: 'in-flight', delta: -2 })],
    mode: backingOff,
    then: { units: [] },
  },
  {
    name: 'the delete kept failing: delete-failed, SQS will deliver it again',
    state: given({ mode: backingOff, units: [[4, settling([a], [deleting(a)])]] }),
    event: { type: 'delete-failed', unit: 4, messageId: 'a', error: 'InternalError: try again' },
    effects: [r({ type: 'outcome', message: a, ms: 1000, outcome: { status: 'delete-failed', error: 'InternalError: try again' } }), r({ type: 'in-flight', delta: -1 })],
    mode: backingOff,
  },
  {
    name: 'an answer that does not fit the message\'s step is ignored',
    state: given({ mode: backingOff, units: [[4, settling([a], [deleting(a)])]] }),
    event: { type: 'retry-set', unit: 4, messageId: 'a' },
    effects: [],
    mode: backingOff,
  },
  {
    name: 'a delete answered after its unit was abandoned is ignored',
    state: given({ mode: { name: 'releasing', reason: 'stopped', unfinished: 1 }, releasing: 1 }),
    event: { type: 'delete-failed', unit: 4, messageId: 'a', error: 'the bridge stopped' },
    effects: [],
    mode: { name: 'releasing', reason: 'stopped', unfinished: 1 },
  },
  // Stop and drain.
  {
    name: 'stop: receives abandoned, the shutdown timer armed, in-flight work goes on',
    state: given({ polls: [[1, poll(1)]], units: [[4, delivering([a])]] }),
    event: { type: 'stop' },
    effects: [
      disarm(stall(1)),
      { type: 'abandon-receives', polls: [1], reason: 'the bridge is stopping' },
      r({ type: 'stopping', reason: 'stopped', inFlight: 1 }),
      arm({ kind: 'shutdown' }, 30_000),
    ],
    mode: draining,
    then: { polls: [] },
  },
  {
    name: 'stop while backing off: the backoff timer goes too',
    state: given({ mode: backingOff, units: [[4, delivering([a])]] }),
    event: { type: 'stop' },
    effects: [disarm({ kind: 'backoff' }), r({ type: 'stopping', reason: 'stopped', inFlight: 1 }), arm({ kind: 'shutdown' }, 30_000)],
    mode: draining,
  },
  {
    name: 'stop with nothing in flight: straight to closing',
    state: given({ polls: [[1, poll(1)]] }),
    event: { type: 'stop' },
    effects: [
      disarm(stall(1)),
      { type: 'abandon-receives', polls: [1], reason: 'the bridge is stopping' },
      r({ type: 'stopping', reason: 'stopped', inFlight: 0 }),
      arm({ kind: 'shutdown' }, 30_000),
      disarm({ kind: 'shutdown' }),
      { type: 'close' },
    ],
    mode: { name: 'closing', reason: 'stopped', unfinished: 0 },
  },
  {
    name: 'a second stop changes nothing',
    state: given({ mode: draining, units: [[4, delivering([a])]] }),
    event: { type: 'stop' },
    effects: [],
    mode: draining,
  },
  {
    name: 'the last unit ended while draining: closing',
    state: given({ mode: draining, units: [[4, settling([a], [deleting(a)])]] }),
    event: { type: 'deleted', unit: 4, messageId: 'a' },
    effects: [
      r({ type: 'outcome', message: a, ms: 1000, outcome: { status: 'succeeded' } }),
      r({ type: 'in-flight', delta: -1 }),
      disarm({ kind: 'shutdown' }),
      { type: 'close' },
    ],
    mode: { name: 'closing', reason: 'stopped', unfinished: 0 },
  },
  {
    name: 'the last unit ended with a release out: the release is waited for',
    state: given({ mode: draining, units: [[4, settling([a], [deleting(a)])]], releasing: 1 }),
    event: { type: 'deleted', unit: 4, messageId: 'a' },
    effects: [r({ type: 'outcome', message: a, ms: 1000, outcome: { status: 'succeeded' } }), r({ type: 'in-flight', delta: -1 }), disarm({ kind: 'shutdown' })],
    mode: { name: 'releasing', reason: 'stopped', unfinished: 0 },
  },
  {
    name: 'the last release answered: closing',
    state: given({ mode: { name: 'releasing', reason: 'stopped', unfinished: 1 }, releasing: 1 }),
    event: { type: 'released', messageId: 'a' },
    effects: [{ type: 'close' }],
    mode: { name: 'closing', reason: 'stopped', unfinished: 1 },
    then: { releasing: 0 },
  },
  {
    name: 'a release failed: said so (the message returns after its visibility timeout)',
    state: given({ mode: { name: 'releasing', reason: 'stopped', unfinished: 2 }, releasing: 2 }),
    event: { type: 'release-failed', messageId: 'a', error: 'no answer' },
    effects: [r({ type: 'release-failed', messageId: 'a', error: 'no answer' })],
    mode: { name: 'releasing', reason: 'stopped', unfinished: 2 },
    then: { releasing: 1 },
  },
  {
    name: 'the shutdown timeout: deliveries aborted, unsettled messages released, never deleted; a backoff out is a failure',
    state: given({
      mode: draining,
      units: [
        [4, delivering([a])],
        [5, settling([b, c], [deleting(b), retrying(c, 2)], 500)],
      ],
    }),
    event: { type: 'timer', timer: { kind: 'shutdown' } },
    now: 30_000,
    effects: [
      { type: 'abort-delivery', unit: 4, reason: 'the bridge stopped before this work finished' },
      disarm(extend(4)),
      r({ type: 'outcome', message: a, ms: 30_000, outcome: { status: 'released' } }),
      r({ type: 'outcome', message: b, ms: 29_500, outcome: { status: 'released' } }),
      r({ type: 'outcome', message: c, ms: 29_500, outcome: { status: 'failed', error: 'boom', retryInSeconds: 2 } }),
      r({ type: 'in-flight', delta: -3 }),
      { type: 'close-deleter' },
      { type: 'release', messages: [a, b] },
    ],
    mode: { name: 'releasing', reason: 'stopped', unfinished: 2 },
    then: { units: [], releasing: 2 },
  },
  {
    name: 'the shutdown timeout with only a backoff out: nothing to release, closing',
    state: given({ mode: draining, units: [[5, settling([c], [retrying(c, 2)])]] }),
    event: { type: 'timer', timer: { kind: 'shutdown' } },
    effects: [
      r({ type: 'outcome', message: c, ms: 1000, outcome: { status: 'failed', error: 'boom', retryInSeconds: 2 } }),
      r({ type: 'in-flight', delta: -1 }),
      { type: 'close-deleter' },
      { type: 'close' },
    ],
    mode: { name: 'closing', reason: 'stopped', unfinished: 0 },
  },
  {
    name: 'a shutdown timer after the drain ended is ignored',
    state: given({ mode: { name: 'closing', reason: 'stopped', unfinished: 0 } }),
    event: { type: 'timer', timer: { kind: 'shutdown' } },
    effects: [],
    mode: { name: 'closing', reason: 'stopped', unfinished: 0 },
  },
  {
    name: 'closed: stopped, with what was left unfinished',
    state: given({ mode: { name: 'closing', reason: 'drained', unfinished: 2 } }),
    event: { type: 'closed' },
    effects: [r({ type: 'stopped', reason: 'drained', unfinished: 2 })],
    mode: { name: 'stopped', reason: 'drained', unfinished: 2 },
  },
  {
    name: 'closed again: nothing more',
    state: given({ mode: { name: 'stopped', reason: 'drained', unfinished: 2 } }),
    event: { type: 'closed' },
    effects: [],
    mode: { name: 'stopped', reason: 'drained', unfinished: 2 },
  },
];

/** The books of a state, in the shape the rows give them. */
function books(state: BridgeMachine, keys: ReadonlyArray<keyof NonNullable<Row['then']>>): Record<string, unknown> {
  const all = {
    polls: [...state.polls],
    units: [...state.units],
    releasing: state.releasing,
    receiveFailures: state.receiveFailures,
    restarts: state.restarts,
    nextId: state.nextId,
  };
  return Object.fromEntries(keys.map((k) => [k, all[k]]));
}

describe('the bridge machine', () => {
  it.each(rows)('$name', ({ state, event, now = 1000, effects, mode, then = {} }) => {
    // Act
    const next = step(state, event, { now, random: () => 0.5 });

    // Assess
    expect(next.effects).toEqual(effects);
    expect(next.state.mode).toEqual(mode);
    const keys = Object.keys(then) as Array<keyof typeof then>;
    expect(books(next.state, keys)).toEqual(books(given({ ...then, mode, config: state.config }), keys));
  });

  it('never changes the state it was given', () => {
    // Prepare
    const state = given({ polls: [[1, poll(1)], [2, poll(1)]] });
    const before = structuredClone(state);

    // Act
    step(state, { type: 'received', poll: 1, messages: [a] }, { now: 1000, random: () => 0.5 });

    // Assess
    expect(state).toEqual(before);
  });

  it('runs a message from start to stop: received, delivered, deleted, drained, closed', () => {
    // Prepare
    const moment = (now: number) => ({ now, random: () => 0.5 });
    const events: Array<[MachineEvent, number]> = [
      [{ type: 'start' }, 0],
      [{ type: 'received', poll: 1, messages: [a] }, 10],
      [{ type: 'delivered', unit: 3, outcomes: [{ messageId: 'a', status: 'succeeded' }] }, 20],
      [{ type: 'deleted', unit: 3, messageId: 'a' }, 30],
      [{ type: 'stop' }, 40],
      [{ type: 'closed' }, 50],
    ];

    // Act
    let state = initialMachine(baseConfig);
    const reports: Report[] = [];
    for (const [event, now] of events) {
      const next = step(state, event, moment(now));
      state = next.state;
      for (const effect of next.effects) if (effect.type === 'report') reports.push(effect.report);
    }

    // Assess
    expect(state.mode).toEqual({ name: 'stopped', reason: 'stopped', unfinished: 0 });
    expect(reports.filter((x) => x.type === 'outcome')).toEqual([{ type: 'outcome', message: a, ms: 20, outcome: { status: 'succeeded' } }]);
    expect(reports.at(-1)).toEqual({ type: 'stopped', reason: 'stopped', unfinished: 0 });
    expect(state.polls.size + state.units.size).toBe(0);
  });
});

describe('what the machine shows', () => {
  it.each<[Mode, number, string]>([
    [{ name: 'receiving' }, 1, 'receiving'],
    [{ name: 'waiting-for-capacity' }, 0, 'waiting-for-capacity'],
    [{ name: 'backing-off', until: 5 }, 0, 'backing-off'],
    [{ name: 'waiting-for-in-flight' }, 1, 'receiving'],
    [{ name: 'waiting-for-in-flight' }, 0, 'waiting-for-capacity'],
    [draining, 0, 'draining'],
    [{ name: 'releasing', reason: 'stopped', unfinished: 0 }, 0, 'draining'],
    [{ name: 'closing', reason: 'stopped', unfinished: 0 }, 0, 'draining'],
    [{ name: 'stopped', reason: 'drained', unfinished: 0 }, 0, 'stopped'],
  ])('%o with %i receives out shows as %s', (mode, receives, shown) => {
    const polls: Array<[number, Poll]> = receives > 0 ? [[1, poll(1)]] : [];
    expect(publicState(given({ mode, polls }))).toBe(shown);
  });

  it.each<[Timer, string]>([
    [{ kind: 'backoff' }, 'backoff'],
    [{ kind: 'shutdown' }, 'shutdown'],
    [stall(3), 'stall:3'],
    [extend(4), 'extend:4'],
  ])('names the timer %o %s', (timer, key) => {
    expect(timerKey(timer)).toBe(key);
  });

  it.each<[number, number | undefined]>([
    [1, undefined],
    [2, 1000],
    [30, 15_000],
  ])('extends a visibility timeout of %i s every %s ms', (seconds, ms) => {
    expect(extendIntervalMs(seconds)).toBe(ms);
  });

  it('counts in flight every message of every unit, delivering or settling', () => {
    expect(inFlight(given({ units: [[4, delivering([a, b])], [5, settling([c, d], [deleting(d)])]] }))).toBe(4);
  });
});
