/**
 * The prober's machine, table-driven: each row is a history (the start and the events since),
 * one more event, and the effects and state that must follow. No sockets, no timers, no sleeps:
 * time is the `nowMs` each event carries.
 */
import { describe, expect, it } from 'vitest';
import { start, step } from '../../src/prober/machine.js';
import { machineSettings, type Effect, type ProberEvent, type ProberState, type Reading } from '../../src/prober/state.js';
import { proberOptionsSchema, type ProberOptionsInput, type ProbeTarget } from '../../src/prober/options.js';
import type { CheckResult } from '../../src/prober/types.js';

const epoch = Date.UTC(2024, 0, 1);
const at = (nowMs: number): Reading => ({ nowMs, atMs: epoch + nowMs });
const iso = (nowMs: number): string => new Date(epoch + nowMs).toISOString();

const a: ProbeTarget = { instanceId: 'i-0aaa', host: '10.0.0.1', port: 80 };
const b: ProbeTarget = { instanceId: 'i-0bbb', host: '10.0.0.2', port: 80 };
const c: ProbeTarget = { instanceId: 'i-0ccc', host: '10.0.0.3', port: 8080, check: 'tcp' };
const urlA = 'http://10.0.0.1:80/health';
const urlB = 'http://10.0.0.2:80/health';

const ok: CheckResult = { ok: true, status: 200 };
const s503: CheckResult = { ok: false, status: 503, error: 'status 503' };
const timeout: CheckResult = { ok: false, error: 'timeout after 500 ms' };
const refused: CheckResult = { ok: false, error: 'ECONNREFUSED' };

/** Events, each at a monotonic `nowMs` (and the epoch reading that goes with it). */
const ev = {
  targets: (nowMs: number, targets: ProbeTarget[], chance: number[] = []): ProberEvent => ({ type: 'targets:set', targets, chance, ...at(nowMs) }),
  due: (nowMs: number): ProberEvent => ({ type: 'schedule:due', ...at(nowMs) }),
  done: (nowMs: number, id: number, result: CheckResult, ms = 5, loopLateMs = 0): ProberEvent => ({ type: 'check:done', id, result, ms, loopLateMs, ...at(nowMs) }),
  sent: (nowMs: number, id: number, ms = 3): ProberEvent => ({ type: 'send:done', id, ms, ...at(nowMs) }),
  sendFailed: (nowMs: number, id: number, error = 'topic unavailable'): ProberEvent => ({ type: 'send:failed', id, error, ...at(nowMs) }),
  round: (nowMs: number, loopLateMs = 0): ProberEvent => ({ type: 'round:due', loopLateMs, ...at(nowMs) }),
  reference: (nowMs: number, ok: boolean, loopLateMs = 0): ProberEvent => ({ type: 'reference:done', ok, loopLateMs, ...at(nowMs) }),
  beat: (nowMs: number, error?: string): ProberEvent => ({ type: 'heartbeat:done', ...(error !== undefined ? { error } : {}), ...at(nowMs) }),
  discoveryDue: (nowMs: number): ProberEvent => ({ type: 'discovery:due', ...at(nowMs) }),
  discovered: (nowMs: number, targets: ProbeTarget[], chance: number[] = []): ProberEvent => ({ type: 'discovery:done', targets, chance, ...at(nowMs) }),
  discoveryFailed: (nowMs: number, error = 'DescribeAutoScalingGroups throttled'): ProberEvent => ({ type: 'discovery:failed', error, ...at(nowMs) }),
  reset: (nowMs: number): ProberEvent => ({ type: 'stats:reset', ...at(nowMs) }),
  stop: (nowMs: number): ProberEvent => ({ type: 'stop', ...at(nowMs) }),
  stopDue: (nowMs: number): ProberEvent => ({ type: 'stop:due', ...at(nowMs) }),
};

/** Interval 1 s, timeout 500 ms, thresholds 2/2, two slots, no jitter, no repeats. */
const base: ProberOptionsInput = { intervalMs: 1_000, timeoutMs: 500, unhealthyThreshold: 2, healthyThreshold: 2, concurrency: 2, repeatUnhealthyAfterMs: 0, observer: 'obs-a' };

interface Setup {
  options?: ProberOptionsInput;
  has?: { region?: string; heartbeat?: boolean; discoverEveryMs?: number };
  targets?: ProbeTarget[];
  chance?: number[];
}

/** The machine after its start at 0 and `history`; the effects of the last step. */
function replay(setup: Setup, history: ProberEvent[]): { state: ProberState; effects: Effect[] } {
  const settings = machineSettings(proberOptionsSchema.parse({ ...base, ...setup.options }), { heartbeat: false, ...setup.has });
  let last = start(settings, { ...at(0), targets: setup.targets ?? [a, b], chance: setup.chance ?? [] });
  for (const e of history) last = step(last.state, e);
  return last;
}

/** What the rows look at. */
function view(s: ProberState) {
  return {
    mode: s.mode.name,
    targets: [...s.byKey.values()].map((r) => `${r.id} ${r.target.instanceId} ${r.phase.name} ${r.delivery.name} ${r.threshold.verdict}`),
    records: s.records.size,
    queue: s.queue.map((r) => r.id),
    checking: s.checking,
    sending: s.sending,
    scheduleAtMs: s.scheduleAtMs,
    failing: s.failing,
    unhealthy: s.unhealthy,
    self: { degraded: s.self.degraded, reasons: s.self.reasons },
    round: s.round.name,
    discovery: s.discovery.name,
    stats: s.stats,
  };
}

const emit = (event: string, payload: unknown): Effect => ({ type: 'emit', event, payload }) as Effect;
const timer = (name: string, atMs: number): Effect => ({ type: 'timer:set', timer: name, atMs }) as Effect;
const check = (id: number, t: ProbeTarget = id === 1 ? a : b): Effect => ({
  type: 'check',
  id,
  check: { kind: 'http', host: t.host, port: t.port, path: '/health', expectedStatus: 200 },
});
const checkEvent = (t: ProbeTarget, url: string, over: Record<string, unknown>) => ({ instanceId: t.instanceId, target: url, ms: 5, latenessMs: 0, atMs: expect.any(Number), ...over });

/** Both targets checked at 0 and answered 503 twice: a unhealthy and sent (id 1, sequence 1), b too (id 2). */
const twoFailures = [ev.due(0), ev.done(5, 1, s503), ev.done(6, 2, s503), ev.due(1_000), ev.done(1_005, 1, s503)];

interface Row {
  name: string;
  setup?: Setup;
  given?: ProberEvent[];
  when: ProberEvent;
  effects: unknown[];
  state?: Record<string, unknown>;
}

function runRows(rows: Row[]): void {
  it.each(rows)('$name', ({ setup, given, when, effects, state }) => {
    const before = replay(setup ?? {}, given ?? []);
    const after = step(before.state, when);
    expect(after.effects).toEqual(effects);
    if (state) expect(view(after.state)).toMatchObject(state);
  });
}

describe('prober machine: the start', () => {
  it('places the targets, sets the schedule and the round, and runs the first round at once', () => {
    const { state, effects } = replay({}, []);
    expect(effects).toEqual([
      emit('prober:targets:changed', { count: 2, added: 2, removed: 0, atMs: epoch }),
      timer('schedule', 0),
      timer('round', 1_000),
    ]);
    expect(view(state)).toMatchObject({ mode: 'running', targets: ['1 i-0aaa idle quiet healthy', '2 i-0bbb idle quiet healthy'], round: 'idle', discovery: 'off' });
  });

  it('beats at once, starts discovery and the reference check when it has them', () => {
    const { state, effects } = replay(
      { options: { reference: { host: '10.0.0.254', port: 443 } }, has: { heartbeat: true, discoverEveryMs: 30_000, region: 'eu-west-1' }, targets: [] },
      [],
    );
    expect(effects).toEqual([timer('round', 1_000), { type: 'reference', check: { kind: 'tcp', host: '10.0.0.254', port: 443 } }, { type: 'discover' }]);
    expect(view(state)).toMatchObject({ round: 'referencing', discovery: 'discovering', scheduleAtMs: Infinity });
  });

  it('without a reference, the first round beats with the targets it was given', () => {
    const { effects } = replay({ has: { heartbeat: true } }, []);
    const beat = { observer: 'obs-a', degraded: false, reasons: [], targets: 2, probed: 0, unhealthy: 0, unreachable: [], worstLatenessMs: 0, discoveryFailing: false, atMs: epoch };
    expect(effects.slice(3)).toEqual([emit('prober:heartbeat', beat), { type: 'heartbeat', beat }]);
  });

  it('an HTTP reference is checked with GET, expecting 200', () => {
    const { effects } = replay({ options: { reference: { host: 'gw', port: 80, check: 'http', path: '/ping' } }, targets: [] }, []);
    expect(effects).toContainEqual({ type: 'reference', check: { kind: 'http', host: 'gw', port: 80, path: '/ping', expectedStatus: 200 } });
  });
});

describe('prober machine: targets', () => {
  runRows([
    {
      name: 'the same targets again change nothing',
      when: ev.targets(100, [b, a]),
      effects: [],
      state: { targets: ['1 i-0aaa idle quiet healthy', '2 i-0bbb idle quiet healthy'], records: 2 },
    },
    {
      name: 'a replaced target is forgotten, the new one joins the schedule at its next slot',
      given: [ev.due(0), ev.done(5, 1, ok), ev.done(6, 2, ok)],
      when: ev.targets(300, [a, c]),
      effects: [emit('prober:targets:changed', { count: 2, added: 1, removed: 1, atMs: epoch + 300 })],
      state: { targets: ['1 i-0aaa idle quiet healthy', '3 i-0ccc idle quiet healthy'], records: 2, stats: expect.objectContaining({ targets: 2 }) },
    },
    {
      name: 'jitter places each target by its chance; one added later joins its phase',
      setup: { options: { jitterMs: 1_000 }, targets: [a], chance: [0.25] },
      given: [],
      when: ev.targets(2_600, [a, b], [0.9, 0.5]),
      effects: [emit('prober:targets:changed', { count: 2, added: 1, removed: 0, atMs: epoch + 2_600 })],
      state: { scheduleAtMs: 250 },
    },
    {
      name: 'a removed target with a check in flight is kept until its check ends, then forgotten',
      given: [ev.due(0)],
      when: ev.targets(10, [a]),
      effects: [emit('prober:targets:changed', { count: 1, added: 0, removed: 1, atMs: epoch + 10 })],
      state: { targets: ['1 i-0aaa checking quiet healthy'], records: 2, checking: 2 },
    },
    {
      name: 'targets set while stopping are ignored',
      given: [ev.due(0), ev.stop(1)],
      when: ev.targets(2, [c]),
      effects: [],
      state: { mode: 'stopping', targets: ['1 i-0aaa checking quiet healthy', '2 i-0bbb checking quiet healthy'] },
    },
  ]);

  it('a target added later is due at its own phase in the next interval', () => {
    const { state } = replay({ options: { jitterMs: 1_000 }, targets: [a], chance: [0.25] }, [ev.due(250), ev.done(255, 1, ok), ev.targets(2_600, [a, b], [0.9, 0.5])]);
    expect(state.byKey.get('i-0bbb@10.0.0.2:80')?.dueMs).toBe(3_500);
    expect(state.byKey.get('i-0aaa@10.0.0.1:80')?.dueMs).toBe(1_250);
  });

  it('a target with no chance given is placed at the start of the interval', () => {
    const { state } = replay({ options: { jitterMs: 1_000 }, targets: [a, b], chance: [0.5] }, []);
    expect([...state.byKey.values()].map((r) => r.phaseMs)).toEqual([500, 0]);
  });

  it('the same instance at two addresses: the later one answers for it, and removing it leaves none', () => {
    const a2 = { ...a, port: 81 };
    const { state } = replay({ targets: [a, a2] }, [ev.targets(10, [a])]);
    expect(state.byInstance.get('i-0aaa')).toBeUndefined();
    expect(state.byKey.size).toBe(1);
    const other = replay({ targets: [a, a2] }, [ev.targets(10, [a2])]).state;
    expect(other.byInstance.get('i-0aaa')?.target).toEqual(a2);
  });
});

describe('prober machine: the schedule and the slots', () => {
  /** Due at 0, 100 and 200. */
  const staggered: Setup = { options: { jitterMs: 1_000 }, targets: [a, b, c], chance: [0, 0.1, 0.2] };
  runRows([
    {
      name: 'due checks start while slots are free; the rest wait in order',
      setup: staggered,
      when: ev.due(200),
      effects: [check(1), check(2), timer('schedule', 1_000)],
      state: { queue: [3], checking: 2, targets: ['1 i-0aaa checking quiet healthy', '2 i-0bbb checking quiet healthy', '3 i-0ccc queued quiet healthy'] },
    },
    {
      name: 'a freed slot starts the oldest waiting check, late',
      setup: staggered,
      given: [ev.due(200)],
      when: ev.done(350, 1, ok, 150),
      effects: [
        emit('prober:check:succeeded', checkEvent(a, urlA, { ok: true, ms: 150, latenessMs: 200, consecutiveFailures: 0 })),
        { type: 'check', id: 3, check: { kind: 'tcp', host: '10.0.0.3', port: 8080 } },
      ],
      state: { queue: [], checking: 2, stats: expect.objectContaining({ checks: 1 }) },
    },
    {
      name: 'a check still running when its next one is due skips that one',
      given: [ev.due(0), ev.done(5, 1, ok)],
      when: ev.due(1_000),
      effects: [check(1), timer('schedule', 2_000)],
      state: { stats: expect.objectContaining({ skipped: 1 }), targets: ['1 i-0aaa checking quiet healthy', '2 i-0bbb checking quiet healthy'] },
    },
    {
      name: 'a long pause skips the missed slots and keeps the phase',
      given: [ev.due(0), ev.done(5, 1, ok), ev.done(6, 2, ok)],
      when: ev.due(3_500),
      effects: [check(1), check(2), timer('schedule', 4_000)],
      state: { stats: expect.objectContaining({ skipped: 4 }) },
    },
    {
      name: 'removed targets on top of the heap get no timer',
      given: [ev.targets(10, [a])],
      when: ev.due(0),
      effects: [check(1), timer('schedule', 1_000)],
      state: { targets: ['1 i-0aaa checking quiet healthy'], records: 1 },
    },
    {
      name: 'a waiting check of a removed target is passed over',
      setup: { options: { concurrency: 1 } },
      given: [ev.due(0), ev.targets(10, [a])],
      when: ev.done(20, 1, ok),
      effects: [emit('prober:check:succeeded', checkEvent(a, urlA, { ok: true, consecutiveFailures: 0 }))],
      state: { queue: [], checking: 0, records: 1 },
    },
    {
      name: 'a schedule timer that fires while stopping does nothing',
      given: [ev.stop(0)],
      when: ev.due(0),
      effects: [],
    },
    {
      name: 'nothing due yet: the timer is set again for the earliest',
      given: [ev.due(0), ev.done(5, 1, ok), ev.done(6, 2, ok)],
      when: ev.due(999),
      effects: [timer('schedule', 1_000)],
    },
  ]);
});

describe('prober machine: verdicts', () => {
  const unhealthySignal = {
    instanceId: 'i-0aaa',
    state: 'unhealthy',
    source: 'probe',
    observedAt: iso(1_005),
    eventId: 'probe:obs-a:i-0aaa:1',
    reason: `${urlA}: 2 consecutive failures: status 503`,
    instanceIdFrom: 'probe-target',
    observer: 'obs-a',
  };
  runRows([
    {
      name: 'the threshold crossed: the target turns unhealthy and its verdict is sent',
      given: twoFailures.slice(0, 4),
      when: ev.done(1_005, 1, s503),
      effects: [
        emit('prober:check:failed', checkEvent(a, urlA, { ok: false, error: 'status 503', consecutiveFailures: 2 })),
        emit('prober:target:unhealthy', { instanceId: 'i-0aaa', target: urlA, detail: '2 consecutive failures: status 503', atMs: epoch + 1_005 }),
        { type: 'send', id: 1, signal: unhealthySignal },
      ],
      state: { unhealthy: 1, sending: 1, targets: ['1 i-0aaa idle sending unhealthy', '2 i-0bbb checking quiet healthy'], stats: expect.objectContaining({ failures: 3 }) },
    },
    {
      name: 'the region goes into the signal',
      setup: { has: { region: 'eu-west-1' } },
      given: twoFailures.slice(0, 4),
      when: ev.done(1_005, 1, s503),
      effects: [expect.anything(), expect.anything(), { type: 'send', id: 1, signal: { ...unhealthySignal, region: 'eu-west-1' } }],
    },
    {
      name: 'the sink accepted it: reported, counted, said',
      given: twoFailures,
      when: ev.sent(1_010, 1, 4),
      effects: [emit('prober:signal:sent', { signal: unhealthySignal, ms: 4, atMs: epoch + 1_010 })],
      state: { sending: 0, stats: expect.objectContaining({ signalsSent: 1 }) },
    },
    {
      name: 'the sink refused it: counted, logged, said; the next check sends again',
      given: twoFailures,
      when: ev.sendFailed(1_010, 1),
      effects: [
        { type: 'log', level: 'warn', fields: { instanceId: 'i-0aaa', state: 'unhealthy', error: 'topic unavailable' }, message: 'prober: sink failed; will send again at the next check' },
        emit('prober:signal:failed', { signal: unhealthySignal, error: 'topic unavailable', atMs: epoch + 1_010 }),
      ],
      state: { sending: 0, stats: expect.objectContaining({ signalsFailed: 1 }) },
    },
    {
      name: 'after a refusal, the next check sends the verdict again with a new sequence',
      given: [...twoFailures, ev.sendFailed(1_010, 1), ev.due(2_000)],
      when: ev.done(2_005, 1, s503),
      effects: [
        expect.objectContaining({ event: 'prober:check:failed' }),
        { type: 'send', id: 1, signal: expect.objectContaining({ eventId: 'probe:obs-a:i-0aaa:2', state: 'unhealthy', reason: `${urlA}: 3 consecutive failures: status 503` }) },
      ],
    },
    {
      name: 'a verdict already on its way is not sent twice',
      given: [...twoFailures, ev.due(2_000)],
      when: ev.done(2_005, 1, s503),
      effects: [expect.objectContaining({ event: 'prober:check:failed' })],
      state: { sending: 1 },
    },
    {
      name: 'a verdict the sink took is not sent again',
      given: [...twoFailures, ev.sent(1_010, 1), ev.due(2_000)],
      when: ev.done(2_005, 1, s503),
      effects: [expect.objectContaining({ event: 'prober:check:failed' })],
      state: { sending: 0 },
    },
    {
      name: 'while it stays unhealthy, the verdict is sent again every repeatUnhealthyAfterMs',
      setup: { options: { repeatUnhealthyAfterMs: 1_500 } },
      given: [...twoFailures, ev.sent(1_010, 1), ev.due(2_000), ev.done(2_005, 1, s503), ev.due(3_000)],
      when: ev.done(3_005, 1, s503),
      effects: [expect.objectContaining({ event: 'prober:check:failed' }), { type: 'send', id: 1, signal: expect.objectContaining({ eventId: 'probe:obs-a:i-0aaa:2' }) }],
    },
    {
      name: 'healthy again after two successes: said and sent',
      given: [...twoFailures, ev.sent(1_010, 1), ev.due(2_000), ev.done(2_005, 1, ok), ev.due(3_000)],
      when: ev.done(3_005, 1, ok),
      effects: [
        expect.objectContaining({ event: 'prober:check:succeeded' }),
        emit('prober:target:healthy', { instanceId: 'i-0aaa', target: urlA, detail: '2 consecutive successes', atMs: epoch + 3_005 }),
        { type: 'send', id: 1, signal: expect.objectContaining({ state: 'healthy', eventId: 'probe:obs-a:i-0aaa:2', reason: `${urlA}: 2 consecutive successes` }) },
      ],
      state: { unhealthy: 0 },
    },
    {
      name: "a timeout whose own timer fired far too late is inconclusive: it counts neither way",
      given: [ev.due(0)],
      when: ev.done(900, 1, timeout, 900),
      effects: [emit('prober:check:failed', checkEvent(a, urlA, { ok: false, error: 'timeout after 500 ms', ms: 900, consecutiveFailures: 0, inconclusive: true }))],
      state: { stats: expect.objectContaining({ inconclusive: 1, failures: 1 }) },
    },
    {
      name: 'a timeout on time counts, and goes unanswered',
      given: [ev.due(0)],
      when: ev.done(510, 1, timeout, 510),
      effects: [emit('prober:check:failed', checkEvent(a, urlA, { ok: false, error: 'timeout after 500 ms', ms: 510, consecutiveFailures: 1 }))],
      state: { failing: 1 },
    },
    {
      name: 'a refused connection is an answer: the target is down, not the observer',
      given: [ev.due(0)],
      when: ev.done(5, 1, refused),
      effects: [expect.objectContaining({ event: 'prober:check:failed' })],
      state: { failing: 0 },
    },
    {
      name: 'a failure that says nothing is a failure, unanswered',
      given: [ev.due(0)],
      when: ev.done(5, 1, { ok: false }),
      effects: [emit('prober:check:failed', checkEvent(a, urlA, { ok: false, consecutiveFailures: 1 }))],
      state: { failing: 1 },
    },
    {
      name: 'a check result nobody waits for (unknown id) changes nothing',
      given: [ev.due(0)],
      when: ev.done(5, 99, ok),
      effects: [],
      state: { checking: 2 },
    },
    {
      name: "a removed target's check is counted, not judged, and the record forgotten",
      given: [ev.due(0), ev.targets(2, [a])],
      when: ev.done(5, 2, s503),
      effects: [],
      state: { records: 1, checking: 1, stats: expect.objectContaining({ checks: 1, failures: 0 }) },
    },
    {
      name: "a removed target's send still ends: counted, said, then the record forgotten",
      given: [...twoFailures, ev.targets(1_008, [b])],
      when: ev.sent(1_010, 1),
      effects: [expect.objectContaining({ event: 'prober:signal:sent' })],
      state: { records: 1, stats: expect.objectContaining({ signalsSent: 1 }) },
    },
    {
      name: 'a send result nobody waits for changes nothing',
      given: twoFailures,
      when: ev.sent(1_010, 2),
      effects: [],
      state: { sending: 1 },
    },
    {
      name: 'the worst lateness is counted, and checks started more than 100 ms late',
      setup: { options: { concurrency: 1 } },
      given: [ev.due(0)],
      when: ev.done(400, 1, ok, 400),
      effects: [expect.objectContaining({ event: 'prober:check:succeeded' }), check(2)],
      state: { stats: expect.objectContaining({ checks: 1, maxLatenessMs: 0 }) },
    },
    {
      name: '... and the late one, when it ends',
      setup: { options: { concurrency: 1 } },
      given: [ev.due(0), ev.done(400, 1, ok, 400)],
      when: ev.done(410, 2, ok, 10),
      effects: [emit('prober:check:succeeded', checkEvent(b, urlB, { ok: true, ms: 10, latenessMs: 400, consecutiveFailures: 0 }))],
      state: { stats: expect.objectContaining({ checks: 2, maxLatenessMs: 400, meanLatenessMs: 200, lateOver100Ms: 1 }) },
    },
  ]);
});

describe('prober machine: the self-check', () => {
  const degradedLog = (reasons: string[]) => ({
    type: 'log',
    level: 'warn',
    fields: { observer: 'obs-a', reasons },
    message: 'prober: observer degraded; withholding unhealthy verdicts',
  });
  const cutOff = [ev.due(0), ev.done(510, 1, timeout, 510), ev.done(511, 2, timeout, 511), ev.due(1_000), ev.done(1_510, 1, timeout, 510)];
  runRows([
    {
      name: 'every target unanswered at once: the observer is cut off, and says so',
      given: [ev.due(0), ev.done(510, 1, timeout, 510)],
      when: ev.done(511, 2, timeout, 511),
      effects: [expect.objectContaining({ event: 'prober:check:failed' }), degradedLog(['cutOff']), emit('prober:observer:degraded', { observer: 'obs-a', reasons: ['cutOff'], atMs: epoch + 511 })],
      state: { failing: 2, self: { degraded: true, reasons: ['cutOff'] } },
    },
    {
      name: 'while degraded, an unhealthy verdict is withheld and said so',
      given: cutOff.slice(0, 4),
      when: cutOff[4] as ProberEvent,
      effects: [
        expect.objectContaining({ event: 'prober:check:failed' }),
        expect.objectContaining({ event: 'prober:target:unhealthy' }),
        { type: 'log', level: 'info', fields: { observer: 'obs-a', instanceId: 'i-0aaa', reasons: ['cutOff'] }, message: 'prober: unhealthy verdict withheld (observer degraded)' },
        emit('prober:signal:withheld', { observer: 'obs-a', instanceId: 'i-0aaa', reasons: ['cutOff'], atMs: epoch + 1_510 }),
      ],
      state: { sending: 0, unhealthy: 1, stats: expect.objectContaining({ signalsWithheld: 1 }) },
    },
    {
      name: 'it recovers only once the condition stayed clear for recoverAfterMs, and says how long it was degraded',
      given: [...cutOff, ev.done(1_511, 2, ok), ev.due(2_000), ev.done(2_005, 1, ok), ev.done(2_006, 2, ok), ev.due(3_000), ev.done(3_005, 1, ok), ev.done(3_006, 2, ok), ev.due(4_000), ev.done(4_005, 1, ok)],
      when: ev.done(4_520, 2, ok),
      effects: [
        expect.objectContaining({ event: 'prober:check:succeeded' }),
        { type: 'log', level: 'warn', fields: { observer: 'obs-a', degradedForMs: 4_009 }, message: 'prober: observer recovered; verdicts flow again' },
        emit('prober:observer:recovered', { observer: 'obs-a', degradedForMs: 4_009, atMs: epoch + 4_520 }),
      ],
      state: { self: { degraded: false, reasons: [] } },
    },
    {
      name: 'a late loop (the shell measures it) degrades the observer at the next check',
      given: [ev.due(0)],
      when: ev.done(5, 1, ok, 5, 1_200),
      effects: [expect.objectContaining({ event: 'prober:check:succeeded' }), degradedLog(['loopLate']), expect.objectContaining({ event: 'prober:observer:degraded' })],
    },
    {
      name: 'lateness seen where nobody judged (a removed target) still counts at the next judgement',
      given: [ev.due(0), ev.targets(1, [b]), ev.done(5, 1, ok, 5, 1_200)],
      when: ev.done(6, 2, ok),
      effects: [expect.objectContaining({ event: 'prober:check:succeeded' }), degradedLog(['loopLate']), expect.objectContaining({ event: 'prober:observer:degraded' })],
    },
    {
      name: 'a loop reading that is not a number is ignored',
      given: [ev.due(0)],
      when: ev.done(5, 1, ok, 5, Number.NaN),
      effects: [expect.objectContaining({ event: 'prober:check:succeeded' })],
      state: { self: { degraded: false } },
    },
    {
      name: 'a check started late counts as the observer running late',
      setup: { options: { concurrency: 1, maxLatenessMs: 300 } },
      given: [ev.due(0), ev.done(400, 1, ok, 400)],
      when: ev.done(410, 2, ok, 10),
      effects: [expect.objectContaining({ event: 'prober:check:succeeded' }), degradedLog(['loopLate']), expect.objectContaining({ event: 'prober:observer:degraded' })],
    },
  ]);
});

describe('prober machine: the round', () => {
  const beat = (nowMs: number, over: Record<string, unknown> = {}) => ({
    observer: 'obs-a',
    degraded: false,
    reasons: [],
    targets: 2,
    probed: 0,
    unhealthy: 0,
    unreachable: [],
    worstLatenessMs: 0,
    discoveryFailing: false,
    atMs: epoch + nowMs,
    ...over,
  });
  const withBeat: Setup = { has: { heartbeat: true }, options: { heartbeatEveryMs: 2_000 } };
  const withReference: Setup = { options: { reference: { host: 'gw', port: 53 } } };
  runRows([
    {
      name: 'once an interval: the next round set, the self-check run, no heartbeat without a callback',
      when: ev.round(1_000),
      effects: [timer('round', 2_000)],
      state: { round: 'idle' },
    },
    {
      name: 'a late loop seen by a round, with no target due, degrades the observer',
      when: ev.round(1_000, 1_500),
      effects: [timer('round', 2_000), expect.objectContaining({ type: 'log' }), expect.objectContaining({ event: 'prober:observer:degraded' })],
      state: { self: { degraded: true, reasons: ['loopLate'] } },
    },
    {
      name: 'a heartbeat not yet due is not sent',
      setup: withBeat,
      given: [ev.beat(1)],
      when: ev.round(1_000),
      effects: [timer('round', 2_000)],
    },
    {
      name: 'a heartbeat due is emitted and handed to the callback; the round waits for it',
      setup: withBeat,
      given: [ev.beat(1), ev.round(1_000)],
      when: ev.round(2_000),
      effects: [timer('round', 3_000), emit('prober:heartbeat', beat(2_000)), { type: 'heartbeat', beat: beat(2_000) }],
      state: { round: 'beating' },
    },
    {
      name: 'the heartbeat counts the unhealthy targets',
      setup: withBeat,
      given: [ev.beat(1), ...twoFailures, ev.round(1_006)],
      when: ev.round(2_000),
      effects: [timer('round', 3_000), emit('prober:heartbeat', beat(2_000, { unhealthy: 1, probed: 2 })), expect.objectContaining({ type: 'heartbeat' })],
    },
    {
      name: 'a round due while the last one still beats is skipped',
      setup: withBeat,
      when: ev.round(1_000),
      effects: [timer('round', 2_000)],
      state: { round: 'beating' },
    },
    {
      name: 'a heartbeat that failed is logged, never stops anything',
      setup: withBeat,
      when: ev.beat(5, 'PutMetricData throttled'),
      effects: [{ type: 'log', level: 'warn', fields: { observer: 'obs-a', error: 'PutMetricData throttled' }, message: 'prober: heartbeat failed' }],
      state: { round: 'idle' },
    },
    {
      name: 'a heartbeat that nobody waits for changes nothing',
      when: ev.beat(5, 'late'),
      effects: [],
    },
    {
      name: 'rounds missed by a stalled loop are skipped, the phase kept',
      when: ev.round(3_500),
      effects: [timer('round', 4_000)],
    },
    {
      name: 'with a reference, the round checks it first',
      setup: withReference,
      given: [ev.reference(3, true)],
      when: ev.round(1_000),
      effects: [timer('round', 2_000), { type: 'reference', check: { kind: 'tcp', host: 'gw', port: 53 } }],
      state: { round: 'referencing' },
    },
    {
      name: 'a failed reference degrades the observer',
      setup: withReference,
      when: ev.reference(3, false),
      effects: [expect.objectContaining({ fields: { observer: 'obs-a', reasons: ['referenceFailed'] } }), expect.objectContaining({ event: 'prober:observer:degraded' })],
      state: { round: 'idle', self: { degraded: true, reasons: ['referenceFailed'] } },
    },
    {
      name: 'a reference answer nobody waits for changes nothing',
      setup: withReference,
      given: [ev.reference(3, true)],
      when: ev.reference(4, false),
      effects: [],
    },
    {
      name: 'a reference answer after the stop ends the round, nothing more',
      setup: withReference,
      given: [ev.due(0), ev.stop(2)],
      when: ev.reference(3, false),
      effects: [],
      state: { round: 'idle', self: { degraded: false } },
    },
    {
      name: 'a round timer that fires while stopping does nothing',
      given: [ev.due(0), ev.stop(1)],
      when: ev.round(1_000),
      effects: [],
    },
  ]);
});

describe('prober machine: discovery', () => {
  const discovering: Setup = { has: { discoverEveryMs: 30_000 }, targets: [] };
  runRows([
    {
      name: 'what discovery found becomes the targets; it runs again discoverEveryMs later',
      setup: discovering,
      when: ev.discovered(200, [a]),
      effects: [emit('prober:targets:changed', { count: 1, added: 1, removed: 0, atMs: epoch + 200 }), timer('schedule', 1_000), timer('discovery', 30_200)],
      state: { discovery: 'waiting' },
    },
    {
      name: 'a failed discovery keeps the targets, says so, and runs again later',
      setup: { ...discovering, targets: [a] },
      when: ev.discoveryFailed(200),
      effects: [
        { type: 'log', level: 'warn', fields: { error: 'DescribeAutoScalingGroups throttled' }, message: 'prober: discovery failed; keeping the previous targets' },
        emit('prober:discovery:failed', { error: 'DescribeAutoScalingGroups throttled', atMs: epoch + 200 }),
        timer('discovery', 30_200),
      ],
      state: { targets: ['1 i-0aaa idle quiet healthy'], discovery: 'waiting' },
    },
    {
      name: 'its timer starts the next discovery',
      setup: discovering,
      given: [ev.discovered(200, [a])],
      when: ev.discoveryDue(30_200),
      effects: [{ type: 'discover' }],
      state: { discovery: 'discovering' },
    },
    {
      name: 'a discovery timer while one is under way does nothing',
      setup: discovering,
      when: ev.discoveryDue(30_200),
      effects: [],
    },
    {
      name: 'a discovery answer nobody waits for changes nothing',
      setup: discovering,
      given: [ev.discovered(200, [a])],
      when: ev.discovered(300, [b]),
      effects: [],
    },
    {
      name: 'discovery events without a discover callback change nothing',
      when: ev.discovered(300, [c]),
      effects: [],
    },
    {
      name: 'a discovery answer after the stop changes nothing',
      setup: discovering,
      given: [ev.stop(100)],
      when: ev.discovered(200, [a]),
      effects: [],
      state: { mode: 'stopped', targets: [] },
    },
  ]);
});

describe('prober machine: stopping', () => {
  const clears = [
    { type: 'timer:clear', timer: 'schedule' },
    { type: 'timer:clear', timer: 'round' },
    { type: 'timer:clear', timer: 'discovery' },
    { type: 'halt' },
  ];
  const finish = [{ type: 'timer:clear', timer: 'stop' }, { type: 'finish' }];
  runRows([
    {
      name: 'with nothing in flight, it stops at once',
      when: ev.stop(10),
      effects: [...clears, ...finish],
      state: { mode: 'stopped' },
    },
    {
      name: 'with checks in flight, it waits for them, at most timeoutMs; nothing waits for a slot any more',
      setup: { options: { concurrency: 1 } },
      given: [ev.due(0)],
      when: ev.stop(10),
      effects: [...clears, timer('stop', 510)],
      state: { mode: 'stopping', queue: [], targets: ['1 i-0aaa checking quiet healthy', '2 i-0bbb idle quiet healthy'] },
    },
    {
      name: 'the last check in flight ends: counted, not judged, and the prober has stopped',
      given: [ev.due(0), ev.done(5, 1, ok), ev.stop(10)],
      when: ev.done(20, 2, s503),
      effects: finish,
      state: { mode: 'stopped', stats: expect.objectContaining({ checks: 2, failures: 0 }) },
    },
    {
      name: 'one of two checks ends: still stopping',
      given: [ev.due(0), ev.stop(1)],
      when: ev.done(20, 2, ok),
      effects: [],
      state: { mode: 'stopping', checking: 1 },
    },
    {
      name: 'the last send in flight ends (aborted): said, and the prober has stopped',
      given: [...twoFailures, ev.done(1_006, 2, ok), ev.stop(1_007)],
      when: ev.sendFailed(1_008, 1, 'prober stopped'),
      effects: [expect.objectContaining({ type: 'log' }), expect.objectContaining({ event: 'prober:signal:failed' }), ...finish],
      state: { mode: 'stopped' },
    },
    {
      name: 'the stop bound passed with a check that never ended: stopped anyway, saying what was left',
      given: [ev.due(0), ev.stop(10)],
      when: ev.stopDue(510),
      effects: [
        { type: 'log', level: 'warn', fields: { checks: 2, sends: 0, boundMs: 500 }, message: 'prober: stopped with work still in flight: it did not settle within the stop bound' },
        { type: 'finish' },
      ],
      state: { mode: 'stopped' },
    },
    {
      name: 'a stop bound while running means nothing',
      when: ev.stopDue(510),
      effects: [],
      state: { mode: 'running' },
    },
    {
      name: 'a second stop does nothing',
      given: [ev.due(0), ev.stop(10)],
      when: ev.stop(11),
      effects: [],
    },
    {
      name: 'stopped is the end: late results change nothing',
      given: [ev.due(0), ev.stop(10), ev.stopDue(510)],
      when: ev.done(900, 1, ok),
      effects: [],
      state: { mode: 'stopped', stats: expect.objectContaining({ checks: 0 }) },
    },
  ]);
});

describe('prober machine: counters', () => {
  it('resets the counters, keeping the number of targets, in any mode', () => {
    const { state } = replay({}, [ev.due(0), ev.done(5, 1, s503), ev.stop(6), ev.done(7, 2, ok)]);
    expect(state.mode.name).toBe('stopped');
    const after = step(state, ev.reset(8));
    expect(after.effects).toEqual([]);
    expect(after.state.stats).toEqual({ ...after.state.stats, targets: 2, checks: 0, failures: 0, meanLatenessMs: 0 });
    const next = step(replay({}, [ev.due(0), ev.done(405, 1, ok)]).state, ev.reset(500));
    expect(next.state.latenessSum).toBe(0);
  });
});

/** A small seeded generator, so that the walk below is the same every run. */
function mulberry32(seed: number): () => number {
  let t = seed;
  return () => {
    t = (t + 0x6d2b79f5) | 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('prober machine: invariants over a long random walk', () => {
  it('keeps its counters equal to what they count, and is deterministic', () => {
    const walk = (seed: number): { effects: Effect[][]; state: ProberState } => {
      const rnd = mulberry32(seed);
      const pool = Array.from({ length: 8 }, (_, i) => ({ instanceId: `i-0${i}`, host: `10.0.0.${i}`, port: 80, ...(i % 3 === 0 ? {} : { group: `g${i % 3}` }) }));
      const settings = machineSettings(proberOptionsSchema.parse({ ...base, jitterMs: 1_000, concurrency: 3, repeatUnhealthyAfterMs: 1_500 }), {
        heartbeat: true,
        discoverEveryMs: 5_000,
      });
      let last = start(settings, { ...at(0), targets: pool.slice(0, 5), chance: pool.map(() => rnd()) });
      const effects: Effect[][] = [last.effects];
      const inFlight: { checks: number[]; sends: number[] } = { checks: [], sends: [] };
      const results = [ok, s503, timeout, refused];
      let now = 0;
      for (let i = 0; i < 2_000 && last.state.mode.name !== 'stopped'; i++) {
        now += Math.floor(rnd() * 120);
        for (const e of last.effects) {
          if (e.type === 'check') inFlight.checks.push(e.id);
          if (e.type === 'send') inFlight.sends.push(e.id);
        }
        const pick = rnd();
        let event: ProberEvent;
        if (pick < 0.3) event = ev.due(now);
        else if (pick < 0.6 && inFlight.checks.length > 0) event = ev.done(now, inFlight.checks.splice(Math.floor(rnd() * inFlight.checks.length), 1)[0] as number, results[Math.floor(rnd() * 4)] as CheckResult, Math.floor(rnd() * 700));
        else if (pick < 0.75 && inFlight.sends.length > 0) {
          const id = inFlight.sends.splice(0, 1)[0] as number;
          event = rnd() < 0.7 ? ev.sent(now, id) : ev.sendFailed(now, id);
        } else if (pick < 0.8) event = ev.round(now, rnd() < 0.05 ? 2_000 : 0);
        else if (pick < 0.85) event = ev.beat(now);
        else if (pick < 0.9) event = ev.discovered(now, pool.filter(() => rnd() < 0.6), pool.map(() => rnd()));
        else if (pick < 0.92) event = ev.discoveryDue(now);
        else if (pick < 0.93 && i > 1_700) event = ev.stop(now);
        else event = ev.targets(now, pool.filter(() => rnd() < 0.7), pool.map(() => rnd()));
        last = step(last.state, event);
        effects.push(last.effects);
        const s = last.state;
        const current = [...s.byKey.values()];
        const records = [...s.records.values()];
        expect(s.checking).toBe(records.filter((r) => r.phase.name === 'checking').length);
        expect(s.checking).toBeLessThanOrEqual(3);
        expect(s.sending).toBe(records.filter((r) => r.delivery.name === 'sending').length);
        expect(s.failing).toBe(current.filter((r) => r.path.outcome === 'silent').length);
        expect(s.refused).toBe(current.filter((r) => r.path.outcome === 'refused').length);
        expect(s.recovering).toBe(current.filter((r) => r.path.recovering).length);
        expect([...s.groups.values()].reduce((n, g) => n + g.targets, 0)).toBe(current.filter((r) => r.target.group !== undefined).length);
        expect(s.unhealthy).toBe(current.filter((r) => r.threshold.verdict === 'unhealthy').length);
        expect(records.every((r) => r.membership === 'current' || r.phase.name === 'checking' || r.delivery.name === 'sending')).toBe(true);
      }
      return { effects, state: last.state };
    };
    const first = walk(7);
    expect(first.state.mode.name).toBe('stopped');
    expect(first.state.stats.checks).toBeGreaterThan(200);
    expect(first.state.stats.signalsSent).toBeGreaterThan(5);
    expect(walk(7).effects).toEqual(first.effects);
  });
});
