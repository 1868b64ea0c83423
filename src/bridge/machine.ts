/**
 * The bridge's loop as a pure machine: `step(state, event, moment)` returns the next state and the
 * effects the shell (shell.ts) carries out. No I/O, no clock, no randomness here: the time and a
 * source of chance arrive as the `moment` argument, results of I/O arrive as events.
 *
 *   receiving ◀──a slot frees / the slots fill──▶ waiting-for-capacity
 *       │ ▲
 *       │ └──the pause is over── backing-off ◀──a receive failed (in any running state)
 *       └──`once`: a receive came back empty with work in flight──▶ waiting-for-in-flight
 *                                              ──that work settled──▶ receiving
 *   any running state ──stop(), or `once` found the queue empty──▶ draining
 *   draining ──every unit ended, or the shutdown timer abandoned them──▶ releasing
 *   releasing ──every release answered──▶ closing ──the shell closed──▶ stopped
 *
 * receiving: receives are out, and more start while there is room. Room is the free delivery slots
 * (`concurrency`) less what the receives already out may bring, so nothing received waits hidden in
 * a local buffer; up to ceil(concurrency / batchSize) + 1 receives overlap, so a slot that frees
 * while a long poll is out is filled by a second receive, not after the first returns.
 * waiting-for-capacity: no room and no receive out; a unit's delivery ending makes room.
 * backing-off: a receive failed; none starts until the jittered, growing pause is over.
 * waiting-for-in-flight (`once` only): failed messages come back only after their backoff, so an
 * empty receive with work still in flight waits for that work instead of receiving empty again.
 *
 * Every receive has a stall timer (waitSeconds + stallGraceSeconds): a receive that has not
 * returned by then is abandoned with every other one out, counted as a loop restart, and fresh
 * receives start. Messages an abandoned receive still brings are worked on all the same.
 *
 * Each receive's messages become units of work (one per message, or one per receive for a target
 * that takes batches). A unit is `delivering` (its slot taken, its visibility extended every half
 * visibility timeout) until the target answers, then `settling`: each message either `deleting`
 * (succeeded, or rejected as input that can never succeed) or `retrying` (failed: hidden for a
 * backoff by its receive count). The unit ends when each message is settled. A message counts as
 * succeeded only once its delete was confirmed.
 *
 * On stop nothing more is received; messages that still arrive are made visible again at once. If
 * the units do not end within shutdownTimeoutMs they are abandoned: deliveries aborted, messages
 * not yet settled released (made visible again), never deleted.
 */
import { backoffMs } from '../backoff.js';
import { sqsLimits } from './options.js';
import type { ReceivedMessage } from './queue.js';
import type { DeliveryOutcome } from './targets.js';

/** The stages of the bridge's work that each have a bound (see the top of bridge.ts). */
export type BridgeStage = 'receive' | 'deliver' | 'visibility' | 'delete';

/** Why the bridge stops: stop() was called, or `once` found the queue empty. */
export type StopReason = 'stopped' | 'drained';

/** What the machine is told once, at start: the settings that shape its decisions. */
export interface MachineConfig {
  /** Messages being delivered at once. */
  concurrency: number;
  /** MaxNumberOfMessages per receive. */
  batchSize: number;
  /** The target takes a receive's messages in one delivery (`batch`) instead of one each. */
  unitPerReceive: boolean;
  /** Drain what is on the queue, then stop. */
  once: boolean;
  /** Long polling: WaitTimeSeconds of each receive. */
  waitSeconds: number;
  /** Given to each receive; also sets how often running work's visibility is extended. */
  visibilityTimeoutSeconds: number;
  /** A receive out this long is stalled (waitSeconds + stallGraceSeconds). */
  stallMs: number;
  /** On stop, units get this long to end before they are abandoned. */
  shutdownTimeoutMs: number;
  /** A failed message's backoff: base × 2^(receive count − 1), at most max, never under the floor. */
  retryBaseMs: number;
  retryMaxMs: number;
  retryFloorMs: number;
}

/** The time and a source of chance, given with every event. */
export interface Moment {
  /** Milliseconds since the epoch. */
  now: number;
  /** In [0, 1): jitters the backoffs. */
  random: () => number;
}

/** The loop's named states (see the top of this file). */
export type Mode =
  | { name: 'receiving' }
  | { name: 'waiting-for-capacity' }
  | { name: 'backing-off'; until: number }
  | { name: 'waiting-for-in-flight' }
  | { name: 'draining'; reason: StopReason }
  | { name: 'releasing'; reason: StopReason; unfinished: number }
  | { name: 'closing'; reason: StopReason; unfinished: number }
  | { name: 'stopped'; reason: StopReason; unfinished: number };

/** A receive that is out, and how many messages it may bring. */
export interface Poll {
  maxMessages: number;
  startedAt: number;
}

type Failed = Extract<DeliveryOutcome, { status: 'failed' }>;
type Done = Exclude<DeliveryOutcome, { status: 'failed' }>;

/** Where a delivered, unsettled message stands. */
export type MessageStep =
  | { name: 'deleting'; message: ReceivedMessage; outcome: Done }
  | { name: 'retrying'; message: ReceivedMessage; outcome: Failed; retryInSeconds: number };

export type UnitStage =
  /** At the target; `extending`: messages whose visibility extension is out (no second one meanwhile). */
  | { name: 'delivering'; extending: ReadonlySet<string> }
  /** The target answered; `pending`: the messages whose delete or backoff is out, by id. */
  | { name: 'settling'; pending: ReadonlyMap<string, MessageStep> };

export interface Unit {
  messages: readonly ReceivedMessage[];
  receivedAt: number;
  stage: UnitStage;
}

/** The whole state: the named mode and the books it is decided from. */
export interface BridgeMachine {
  readonly config: MachineConfig;
  readonly mode: Mode;
  readonly polls: ReadonlyMap<number, Poll>;
  readonly units: ReadonlyMap<number, Unit>;
  /** Messages received during shutdown whose release is out. */
  readonly releasing: number;
  /** Failed receives in a row (the backoff grows with them). */
  readonly receiveFailures: number;
  readonly restarts: number;
  /** The id of the next poll or unit. */
  readonly nextId: number;
}

/** The machine's timers; the shell keeps one per {@link timerKey}. */
export type Timer =
  | { kind: 'backoff' }
  | { kind: 'shutdown' }
  | { kind: 'stall'; poll: number }
  | { kind: 'extend'; unit: number };

export type MachineEvent =
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'timer'; timer: Timer }
  | { type: 'received'; poll: number; messages: readonly ReceivedMessage[] }
  /** `timeoutMs` when the receive passed its bound. */
  | { type: 'receive-failed'; poll: number; error: string; timeoutMs?: number }
  | { type: 'delivered'; unit: number; outcomes: readonly DeliveryOutcome[] }
  /** The target threw, or did not answer within `timeout`. */
  | { type: 'delivery-failed'; unit: number; error: string; timeout?: { action: string; timeoutMs: number } }
  | { type: 'retry-set'; unit: number; messageId: string }
  | { type: 'retry-not-set'; unit: number; messageId: string; error: string }
  | { type: 'extended'; unit: number; messageId: string }
  | { type: 'extend-failed'; unit: number; messageId: string; error: string }
  | { type: 'deleted'; unit: number; messageId: string }
  | { type: 'delete-failed'; unit: number; messageId: string; error: string }
  | { type: 'released'; messageId: string }
  | { type: 'release-failed'; messageId: string; error: string }
  /** The shell finished closing (its calls cancelled, the metrics server closed). */
  | { type: 'closed' };

/** What became of one message, as reported. */
export type Outcome =
  | { status: 'succeeded' }
  | { status: 'rejected'; reason: string }
  | { status: 'failed'; error: string; retryInSeconds: number; retryable?: boolean }
  | { status: 'released' }
  | { status: 'delete-failed'; error: string };

/** What the shell tells the world (metrics, log, typed events); decided here, said there. */
export type Report =
  | { type: 'received'; count: number }
  | { type: 'receive-failed'; error: string; retryInMs: number }
  | { type: 'stage-timed-out'; stage: BridgeStage; action: string; timeoutMs: number; messageIds: string[]; error: string }
  | { type: 'loop-restarted'; reason: string; restarts: number }
  | { type: 'in-flight'; delta: number }
  | { type: 'outcome'; message: ReceivedMessage; ms: number; outcome: Outcome }
  | { type: 'retry-not-set'; messageId: string; error: string }
  | { type: 'visibility-extended'; messageId: string; visibilityTimeoutSeconds: number }
  | { type: 'visibility-failed'; messageId: string; error: string }
  | { type: 'release-failed'; messageId: string; error: string }
  | { type: 'stopping'; reason: StopReason; inFlight: number }
  | { type: 'stopped'; reason: StopReason; unfinished: number };

/** What the shell does; each result comes back as a {@link MachineEvent}. */
export type Effect =
  | { type: 'receive'; poll: number; maxMessages: number; waitSeconds: number; visibilityTimeoutSeconds: number }
  /** Cancel these receives; whatever they still bring is worked on. */
  | { type: 'abandon-receives'; polls: number[]; reason: string }
  | { type: 'deliver'; unit: number; messages: readonly ReceivedMessage[] }
  | { type: 'abort-delivery'; unit: number; reason: string }
  /** Hide a failed message for its backoff. */
  | { type: 'set-retry'; unit: number; message: ReceivedMessage; retryInSeconds: number }
  | { type: 'extend'; unit: number; message: ReceivedMessage; visibilityTimeoutSeconds: number }
  | { type: 'delete'; unit: number; message: ReceivedMessage }
  /** Make messages visible again at once (best effort). */
  | { type: 'release'; messages: readonly ReceivedMessage[] }
  /** Give up on every delete still waiting (forced shutdown). */
  | { type: 'close-deleter' }
  | { type: 'arm'; timer: Timer; ms: number }
  | { type: 'disarm'; timer: Timer }
  /** Cancel what is still out, close the metrics server, then answer `closed`. */
  | { type: 'close' }
  | { type: 'report'; report: Report };

export interface Transition {
  state: BridgeMachine;
  effects: Effect[];
}

/** The longest pause between failed receives. */
const maxReceiveBackoffMs = 20_000;
/** The first pause after a failed receive grows from this. */
const receiveBackoffBaseMs = 100;

/** The state before `start`. */
export function initialMachine(config: MachineConfig): BridgeMachine {
  return { config, mode: { name: 'receiving' }, polls: new Map(), units: new Map(), releasing: 0, receiveFailures: 0, restarts: 0, nextId: 1 };
}

/** How often running work's visibility is extended: every half visibility timeout (none under 2 s). */
export function extendIntervalMs(visibilityTimeoutSeconds: number): number | undefined {
  return visibilityTimeoutSeconds < 2 ? undefined : (visibilityTimeoutSeconds * 1000) / 2;
}

/** The shell's name of a timer: arming a key again replaces its timer. */
export function timerKey(timer: Timer): string {
  if (timer.kind === 'stall') return `stall:${timer.poll}`;
  if (timer.kind === 'extend') return `extend:${timer.unit}`;
  return timer.kind;
}

/**
 * The receive loop's state as the handle shows it. Fewer names than {@link Mode}: the `once` wait
 * shows as receiving or waiting for capacity, and the steps after draining as draining.
 */
export type BridgeState = 'receiving' | 'waiting-for-capacity' | 'backing-off' | 'draining' | 'stopped';

export function publicState(state: BridgeMachine): BridgeState {
  switch (state.mode.name) {
    case 'waiting-for-in-flight':
      return state.polls.size > 0 ? 'receiving' : 'waiting-for-capacity';
    case 'releasing':
    case 'closing':
      return 'draining';
    default:
      return state.mode.name;
  }
}

/** Messages received and not finished (at the target, or their delete or backoff out). */
export function inFlight(state: BridgeMachine): number {
  let count = 0;
  for (const unit of state.units.values()) count += unit.messages.length;
  return count;
}

/** Messages at the target: what `concurrency` bounds. */
function delivering(state: BridgeMachine): number {
  let count = 0;
  for (const unit of state.units.values()) if (unit.stage.name === 'delivering') count += unit.messages.length;
  return count;
}

/**
 * Room for more messages: free delivery slots, less what the receives out may still bring. Deletes
 * are coalesced in the background, so up to `concurrency` more may wait for theirs.
 */
function room(state: BridgeMachine): number {
  let requested = 0;
  for (const poll of state.polls.values()) requested += poll.maxMessages;
  const { concurrency } = state.config;
  return Math.min(concurrency - delivering(state), concurrency * 2 - inFlight(state)) - requested;
}

function maxPolls(config: MachineConfig): number {
  return Math.ceil(config.concurrency / config.batchSize) + 1;
}

function stopping(mode: Mode): boolean {
  return mode.name === 'draining' || mode.name === 'releasing' || mode.name === 'closing' || mode.name === 'stopped';
}

/** A failed message comes back after this: jittered, exponential in its receive count, within SQS's limit. */
function retryDelaySeconds(config: MachineConfig, receiveCount: number, random: () => number): number {
  const ms = backoffMs({ attempt: receiveCount, baseMs: config.retryBaseMs, maxMs: config.retryMaxMs, minMs: config.retryFloorMs, random });
  return Math.min(sqsLimits.maxVisibilityTimeoutSeconds, Math.round(ms / 1000));
}

function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Map<K, V> {
  return new Map(map).set(key, value);
}

function without<K, V>(map: ReadonlyMap<K, V>, key: K): Map<K, V> {
  const copy = new Map(map);
  copy.delete(key);
  return copy;
}

/** One step: the state after `event`, and what the shell must do. */
export function step(state: BridgeMachine, event: MachineEvent, moment: Moment): Transition {
  const effects: Effect[] = [];
  const cx: Context = { moment, effects };
  return { state: advance(handle(state, event, cx), cx), effects };
}

interface Context {
  moment: Moment;
  effects: Effect[];
}

function report(cx: Context, value: Report): void {
  cx.effects.push({ type: 'report', report: value });
}

function handle(s: BridgeMachine, event: MachineEvent, cx: Context): BridgeMachine {
  switch (event.type) {
    case 'start':
      return s;
    case 'stop':
      return beginStop(s, 'stopped', cx);
    case 'timer':
      return onTimer(s, event.timer, cx);
    case 'received':
      return onReceived(s, event.poll, event.messages, cx);
    case 'receive-failed':
      return onReceiveFailed(s, event, cx);
    case 'delivered':
      return onDelivered(s, event.unit, event.outcomes, cx);
    case 'delivery-failed':
      return onDeliveryFailed(s, event, cx);
    case 'retry-set':
    case 'retry-not-set':
    case 'deleted':
    case 'delete-failed':
      return onSettled(s, event, cx);
    case 'extended':
    case 'extend-failed':
      return onExtended(s, event, cx);
    case 'released':
    case 'release-failed':
      return onReleased(s, event, cx);
    case 'closed':
      return onClosed(s, cx);
  }
}

/** After every event: the mode follows the books (receives start where there is room, a drain moves on). */
function advance(s: BridgeMachine, cx: Context): BridgeMachine {
  switch (s.mode.name) {
    case 'receiving':
    case 'waiting-for-capacity':
      return fill(s, cx);
    case 'waiting-for-in-flight':
      return s.units.size === 0 && s.polls.size === 0 ? fill(s, cx) : s;
    case 'draining':
      if (s.units.size > 0) return s;
      cx.effects.push({ type: 'disarm', timer: { kind: 'shutdown' } });
      return advance({ ...s, mode: { name: 'releasing', reason: s.mode.reason, unfinished: 0 } }, cx);
    case 'releasing':
      if (s.releasing > 0) return s;
      cx.effects.push({ type: 'close' });
      return { ...s, mode: { name: 'closing', reason: s.mode.reason, unfinished: s.mode.unfinished } };
    default:
      return s;
  }
}

/** Starts receives while there is room and a receive slot, then names the mode by what is out. */
function fill(s: BridgeMachine, cx: Context): BridgeMachine {
  let next = s;
  for (let free = room(next); free > 0 && next.polls.size < maxPolls(next.config); free = room(next)) {
    next = startReceive(next, Math.min(next.config.batchSize, free), cx);
  }
  return { ...next, mode: { name: next.polls.size > 0 ? 'receiving' : 'waiting-for-capacity' } };
}

function startReceive(s: BridgeMachine, maxMessages: number, cx: Context): BridgeMachine {
  const poll = s.nextId;
  // Armed before the receive starts: a receive that never returns, for whatever reason, is watched.
  cx.effects.push(
    { type: 'arm', timer: { kind: 'stall', poll }, ms: s.config.stallMs },
    { type: 'receive', poll, maxMessages, waitSeconds: s.config.waitSeconds, visibilityTimeoutSeconds: s.config.visibilityTimeoutSeconds },
  );
  return { ...s, nextId: poll + 1, polls: withEntry(s.polls, poll, { maxMessages, startedAt: cx.moment.now }) };
}

/** Takes a receive off the books (its messages no longer count against the room). */
function endPoll(s: BridgeMachine, poll: number, cx: Context): BridgeMachine {
  cx.effects.push({ type: 'disarm', timer: { kind: 'stall', poll } });
  return { ...s, polls: without(s.polls, poll) };
}

/** Gives up on every receive out. */
function abandonPolls(s: BridgeMachine, reason: string, cx: Context): BridgeMachine {
  if (s.polls.size === 0) return s;
  for (const poll of s.polls.keys()) cx.effects.push({ type: 'disarm', timer: { kind: 'stall', poll } });
  cx.effects.push({ type: 'abandon-receives', polls: [...s.polls.keys()], reason });
  return { ...s, polls: new Map() };
}

function onReceived(s: BridgeMachine, poll: number, messages: readonly ReceivedMessage[], cx: Context): BridgeMachine {
  // A receive the watchdog gave up on is off the books already; its messages are hidden: work them.
  let next: BridgeMachine = { ...(s.polls.has(poll) ? endPoll(s, poll, cx) : s), receiveFailures: 0 };
  report(cx, { type: 'received', count: messages.length });
  if (stopping(next.mode)) {
    if (messages.length === 0) return next;
    cx.effects.push({ type: 'release', messages });
    return { ...next, releasing: next.releasing + messages.length };
  }
  if (next.config.unitPerReceive && messages.length > 0) next = startUnit(next, messages, cx);
  else for (const message of messages) next = startUnit(next, [message], cx);
  if (!next.config.once || messages.length > 0) return next;
  if (next.units.size === 0 && next.polls.size === 0) return beginStop(next, 'drained', cx);
  // Failed messages come back only after their backoff: receive again once the rest settled.
  return next.mode.name === 'backing-off' ? next : { ...next, mode: { name: 'waiting-for-in-flight' } };
}

function onReceiveFailed(s: BridgeMachine, event: Extract<MachineEvent, { type: 'receive-failed' }>, cx: Context): BridgeMachine {
  // An abandoned receive's failure is its cancellation.
  if (!s.polls.has(event.poll)) return s;
  const next = endPoll(s, event.poll, cx);
  const { now, random } = cx.moment;
  const receiveFailures = next.receiveFailures + 1;
  const retryInMs = Math.round(backoffMs({ attempt: receiveFailures + 1, baseMs: receiveBackoffBaseMs, maxMs: maxReceiveBackoffMs, random }));
  if (event.timeoutMs !== undefined) {
    report(cx, { type: 'stage-timed-out', stage: 'receive', action: 'sqs:ReceiveMessage', timeoutMs: event.timeoutMs, messageIds: [], error: event.error });
  }
  report(cx, { type: 'receive-failed', error: event.error, retryInMs });
  const until = Math.max(next.mode.name === 'backing-off' ? next.mode.until : 0, now + retryInMs);
  cx.effects.push({ type: 'arm', timer: { kind: 'backoff' }, ms: until - now });
  return { ...next, receiveFailures, mode: { name: 'backing-off', until } };
}

function startUnit(s: BridgeMachine, messages: readonly ReceivedMessage[], cx: Context): BridgeMachine {
  const unit = s.nextId;
  report(cx, { type: 'in-flight', delta: messages.length });
  const intervalMs = extendIntervalMs(s.config.visibilityTimeoutSeconds);
  if (intervalMs !== undefined) cx.effects.push({ type: 'arm', timer: { kind: 'extend', unit }, ms: intervalMs });
  cx.effects.push({ type: 'deliver', unit, messages });
  const value: Unit = { messages, receivedAt: cx.moment.now, stage: { name: 'delivering', extending: new Set() } };
  return { ...s, nextId: unit + 1, units: withEntry(s.units, unit, value) };
}

function onTimer(s: BridgeMachine, timer: Timer, cx: Context): BridgeMachine {
  switch (timer.kind) {
    case 'backoff':
      return onBackoffOver(s, cx);
    case 'stall':
      return onStall(s, timer.poll, cx);
    case 'extend':
      return onExtendTick(s, timer.unit, cx);
    case 'shutdown':
      return onShutdownTimeout(s, cx);
  }
}

function onBackoffOver(s: BridgeMachine, cx: Context): BridgeMachine {
  if (s.mode.name !== 'backing-off') return s;
  const left = s.mode.until - cx.moment.now;
  if (left <= 0) return { ...s, mode: { name: 'receiving' } };
  // A timer that fired early (clocks differ in resolution): wait the rest.
  cx.effects.push({ type: 'arm', timer: { kind: 'backoff' }, ms: left });
  return s;
}

/** The watchdog: a receive out past its bound stalls the loop; abandon every receive and start afresh. */
function onStall(s: BridgeMachine, poll: number, cx: Context): BridgeMachine {
  const stalled = s.polls.get(poll);
  if (!stalled) return s;
  const reason = `a receive did not return in ${cx.moment.now - stalled.startedAt} ms`;
  report(cx, { type: 'stage-timed-out', stage: 'receive', action: 'sqs:ReceiveMessage', timeoutMs: s.config.stallMs, messageIds: [], error: reason });
  const restarts = s.restarts + 1;
  const next = abandonPolls(s, 'the watchdog restarted the receive loop', cx);
  report(cx, { type: 'loop-restarted', reason, restarts });
  return { ...next, restarts };
}

function onExtendTick(s: BridgeMachine, unitId: number, cx: Context): BridgeMachine {
  const unit = s.units.get(unitId);
  const { visibilityTimeoutSeconds } = s.config;
  const intervalMs = extendIntervalMs(visibilityTimeoutSeconds);
  if (unit?.stage.name !== 'delivering' || intervalMs === undefined) return s;
  const extending = new Set(unit.stage.extending);
  for (const message of unit.messages) {
    if (extending.has(message.messageId)) continue;
    extending.add(message.messageId);
    cx.effects.push({ type: 'extend', unit: unitId, message, visibilityTimeoutSeconds });
  }
  cx.effects.push({ type: 'arm', timer: { kind: 'extend', unit: unitId }, ms: intervalMs });
  return { ...s, units: withEntry(s.units, unitId, { ...unit, stage: { name: 'delivering', extending } }) };
}

/** A unit's extensions stop when the target answered (or the unit is abandoned). */
function disarmExtension(s: BridgeMachine, unitId: number, cx: Context): void {
  if (extendIntervalMs(s.config.visibilityTimeoutSeconds) !== undefined) cx.effects.push({ type: 'disarm', timer: { kind: 'extend', unit: unitId } });
}

function onExtended(s: BridgeMachine, event: Extract<MachineEvent, { type: 'extended' | 'extend-failed' }>, cx: Context): BridgeMachine {
  if (event.type === 'extended') {
    report(cx, { type: 'visibility-extended', messageId: event.messageId, visibilityTimeoutSeconds: s.config.visibilityTimeoutSeconds });
  } else {
    report(cx, { type: 'visibility-failed', messageId: event.messageId, error: event.error });
  }
  const unit = s.units.get(event.unit);
  if (unit?.stage.name !== 'delivering') return s;
  const extending = new Set(unit.stage.extending);
  extending.delete(event.messageId);
  return { ...s, units: withEntry(s.units, event.unit, { ...unit, stage: { name: 'delivering', extending } }) };
}

function onDeliveryFailed(s: BridgeMachine, event: Extract<MachineEvent, { type: 'delivery-failed' }>, cx: Context): BridgeMachine {
  const unit = s.units.get(event.unit);
  if (unit?.stage.name !== 'delivering') return s;
  if (event.timeout) {
    const messageIds = unit.messages.map((m) => m.messageId);
    report(cx, { type: 'stage-timed-out', stage: 'deliver', ...event.timeout, messageIds, error: event.error });
  }
  const outcomes = unit.messages.map((m): DeliveryOutcome => ({ messageId: m.messageId, status: 'failed', error: event.error }));
  return onDelivered(s, event.unit, outcomes, cx);
}

/** The target answered: the unit's slot is free; each message is deleted, or hidden for its backoff. */
function onDelivered(s: BridgeMachine, unitId: number, outcomes: readonly DeliveryOutcome[], cx: Context): BridgeMachine {
  const unit = s.units.get(unitId);
  // Late: the unit failed at its deadline, or was abandoned at a forced shutdown.
  if (unit?.stage.name !== 'delivering') return s;
  disarmExtension(s, unitId, cx);
  const byId = new Map(outcomes.map((o) => [o.messageId, o]));
  const pending = new Map<string, MessageStep>();
  for (const message of unit.messages) {
    const outcome = byId.get(message.messageId) ?? { messageId: message.messageId, status: 'failed', error: 'the target reported no outcome' };
    if (outcome.status === 'failed') {
      const retryInSeconds = retryDelaySeconds(s.config, message.receiveCount, cx.moment.random);
      pending.set(message.messageId, { name: 'retrying', message, outcome, retryInSeconds });
      cx.effects.push({ type: 'set-retry', unit: unitId, message, retryInSeconds });
    } else {
      pending.set(message.messageId, { name: 'deleting', message, outcome });
      cx.effects.push({ type: 'delete', unit: unitId, message });
    }
  }
  return { ...s, units: withEntry(s.units, unitId, { ...unit, stage: { name: 'settling', pending } }) };
}

/** A message's backoff was set (or could not be), or its delete answered: it is settled. */
function onSettled(
  s: BridgeMachine,
  event: Extract<MachineEvent, { type: 'retry-set' | 'retry-not-set' | 'deleted' | 'delete-failed' }>,
  cx: Context,
): BridgeMachine {
  const unit = s.units.get(event.unit);
  const pending = unit?.stage.name === 'settling' ? unit.stage.pending : undefined;
  const current = pending?.get(event.messageId);
  const expected = event.type === 'retry-set' || event.type === 'retry-not-set' ? 'retrying' : 'deleting';
  if (!unit || !pending || current?.name !== expected) return s;
  const ms = cx.moment.now - unit.receivedAt;
  const { message } = current;
  if (event.type === 'retry-not-set') report(cx, { type: 'retry-not-set', messageId: message.messageId, error: event.error });
  report(cx, { type: 'outcome', message, ms, outcome: settledOutcome(current, event) });
  const rest = without(pending, event.messageId);
  if (rest.size > 0) return { ...s, units: withEntry(s.units, event.unit, { ...unit, stage: { name: 'settling', pending: rest } }) };
  report(cx, { type: 'in-flight', delta: -unit.messages.length });
  return { ...s, units: without(s.units, event.unit) };
}

function settledOutcome(current: MessageStep, event: Extract<MachineEvent, { type: 'retry-set' | 'retry-not-set' | 'deleted' | 'delete-failed' }>): Outcome {
  // The message still comes back if its backoff could not be set: after the visibility timeout instead.
  if (current.name === 'retrying') return failedOutcome(current);
  if (event.type === 'delete-failed') return { status: 'delete-failed', error: event.error };
  return current.outcome.status === 'rejected' ? { status: 'rejected', reason: current.outcome.reason } : { status: 'succeeded' };
}

function failedOutcome(step: Extract<MessageStep, { name: 'retrying' }>): Outcome {
  const { error, retryable } = step.outcome;
  return { status: 'failed', error, retryInSeconds: step.retryInSeconds, ...(retryable === undefined ? {} : { retryable }) };
}

function onReleased(s: BridgeMachine, event: Extract<MachineEvent, { type: 'released' | 'release-failed' }>, cx: Context): BridgeMachine {
  if (event.type === 'release-failed') report(cx, { type: 'release-failed', messageId: event.messageId, error: event.error });
  return { ...s, releasing: Math.max(0, s.releasing - 1) };
}

function beginStop(s: BridgeMachine, reason: StopReason, cx: Context): BridgeMachine {
  if (stopping(s.mode)) return s;
  if (s.mode.name === 'backing-off') cx.effects.push({ type: 'disarm', timer: { kind: 'backoff' } });
  const next = abandonPolls(s, 'the bridge is stopping', cx);
  report(cx, { type: 'stopping', reason, inFlight: inFlight(next) });
  cx.effects.push({ type: 'arm', timer: { kind: 'shutdown' }, ms: next.config.shutdownTimeoutMs });
  return { ...next, mode: { name: 'draining', reason } };
}

/**
 * The shutdown timeout passed with units still running: abort them and hand their messages back
 * (made visible again, never deleted). A message whose backoff is already being set is reported
 * failed: it comes back either way.
 */
function onShutdownTimeout(s: BridgeMachine, cx: Context): BridgeMachine {
  if (s.mode.name !== 'draining') return s;
  const released: ReceivedMessage[] = [];
  const now = cx.moment.now;
  const release = (message: ReceivedMessage, receivedAt: number): void => {
    released.push(message);
    report(cx, { type: 'outcome', message, ms: now - receivedAt, outcome: { status: 'released' } });
  };
  for (const [unitId, unit] of s.units) {
    if (unit.stage.name === 'delivering') {
      cx.effects.push({ type: 'abort-delivery', unit: unitId, reason: 'the bridge stopped before this work finished' });
      disarmExtension(s, unitId, cx);
      for (const message of unit.messages) release(message, unit.receivedAt);
      continue;
    }
    for (const pending of unit.stage.pending.values()) {
      if (pending.name === 'deleting') release(pending.message, unit.receivedAt);
      else report(cx, { type: 'outcome', message: pending.message, ms: now - unit.receivedAt, outcome: failedOutcome(pending) });
    }
  }
  report(cx, { type: 'in-flight', delta: -inFlight(s) });
  cx.effects.push({ type: 'close-deleter' });
  if (released.length > 0) cx.effects.push({ type: 'release', messages: released });
  return {
    ...s,
    units: new Map(),
    releasing: s.releasing + released.length,
    mode: { name: 'releasing', reason: s.mode.reason, unfinished: released.length },
  };
}

function onClosed(s: BridgeMachine, cx: Context): BridgeMachine {
  if (s.mode.name !== 'closing') return s;
  const { reason, unfinished } = s.mode;
  report(cx, { type: 'stopped', reason, unfinished });
  return { ...s, mode: { name: 'stopped', reason, unfinished } };
}
