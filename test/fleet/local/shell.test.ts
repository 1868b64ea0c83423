/**
 * The local group's shell with vitest's fake timers and a fake process driver: the behaviour that
 * depends on time (launch backoff, start timeout, shutdown delay, exit notice, stop bound,
 * whenSettled) checked to the millisecond, without a process, a port or a sleep. The real
 * processes are in local-group.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalGroup, type LocalGroupEvents, type LocalGroupOptionsInput } from '../../../src/fleet/local/local-group.js';
import { maxLineChars, OutputRing } from '../../../src/fleet/local/output.js';
import type { ProcessDriver, ProcessHooks, ProcessSpec, StartedProcess } from '../../../src/fleet/local/processes.js';

interface FakeProcess {
  pid: number;
  spec: ProcessSpec;
  hooks: ProcessHooks;
  port: number;
  exited: boolean;
  inputClosed: boolean;
}

/**
 * Processes that only exist in memory. By default each listens at once and exits 0 on SIGTERM;
 * `listens` and `obeysSigterm` change that, `exitAtStart` makes each exit with that code as it starts.
 */
class FakeProcesses implements ProcessDriver {
  listens = true;
  obeysSigterm = true;
  exitAtStart: number | undefined;
  readonly signals: string[] = [];
  readonly started: FakeProcess[] = [];
  private nextPid = 1_000;
  private nextPort = 5_000;

  async freePort(): Promise<number> {
    return this.nextPort++;
  }

  async turn(): Promise<void> {}

  start(spec: ProcessSpec, hooks: ProcessHooks): StartedProcess {
    const p: FakeProcess = { pid: this.nextPid++, spec, hooks, port: Number(spec.env.PORT), exited: false, inputClosed: false };
    this.started.push(p);
    if (this.exitAtStart !== undefined) {
      const code = this.exitAtStart;
      queueMicrotask(() => this.exit(p, code, null));
    }
    return { pid: p.pid, closeInput: () => (p.inputClosed = true) };
  }

  async portAnswers(port: number): Promise<boolean> {
    const p = this.started.find((x) => x.port === port);
    return this.listens && p !== undefined && !p.exited;
  }

  signalGroup(pid: number, signal: NodeJS.Signals): void {
    this.signals.push(`${signal} ${pid}`);
    const p = this.started.find((x) => x.pid === pid);
    if (!p || p.exited) return;
    if (signal === 'SIGKILL') queueMicrotask(() => this.exit(p, null, 'SIGKILL'));
    if (signal === 'SIGTERM' && this.obeysSigterm) queueMicrotask(() => this.exit(p, 0, null));
  }

  /** The process writes, then (optionally) exits. */
  write(p: FakeProcess, stream: 'stdout' | 'stderr', text: string): void {
    p.hooks.output(stream, text);
  }

  exit(p: FakeProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (p.exited) return;
    p.exited = true;
    p.hooks.exit(code, signal);
  }
}

const groups: LocalGroup[] = [];
function group(options: LocalGroupOptionsInput, fake: FakeProcesses): LocalGroup {
  // random 0: each backoff is the lower half's floor, 50, 100, 200… ms.
  const g = new LocalGroup({ stopTimeoutMs: 500, ...options }, { processes: fake, random: () => 0 });
  groups.push(g);
  return g;
}

function record<K extends keyof LocalGroupEvents>(g: LocalGroup, name: K): Array<LocalGroupEvents[K]> {
  const seen: Array<LocalGroupEvents[K]> = [];
  g.events.on(name, (e) => seen.push(e));
  return seen;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(async () => {
  for (const g of groups.splice(0)) {
    const stopped = g.stop();
    await vi.runAllTimersAsync();
    await stopped;
  }
  vi.useRealTimers();
});

describe('local group shell (fake timers, fake processes)', () => {
  it('backs off a launch that keeps failing, 50 ms doubling to the 2.5 s floor of the 5 s cap, and resets once an instance serves', async () => {
    // Prepare: a command that exits with code 3 as it starts.
    const fake = new FakeProcesses();
    fake.exitAtStart = 3;
    const g = group({ desiredCapacity: 1 }, fake);
    const launched = record(g, 'group:instance:launched');
    const failed = record(g, 'group:launch:failed');

    // Act
    g.start();
    await vi.advanceTimersByTimeAsync(10_000);

    // Assess: the gaps between launches follow the backoff, capped.
    const gaps = launched.slice(1).map((e, k) => e.atMs - (launched[k] as { atMs: number }).atMs);
    expect(gaps.slice(0, 8)).toEqual([50, 100, 200, 400, 800, 1_600, 2_500, 2_500]);
    expect(failed[0]?.error).toBe('exited with code 3 before it listened on 127.0.0.1:5000');

    // Act: the command is fixed; the next launch serves, and a later failure starts over at 50 ms.
    fake.exitAtStart = undefined;
    await vi.advanceTimersByTimeAsync(2_500);
    expect(g.settled()).toBe(true);
    const [serving] = g.instances().filter((i) => i.lifecycleState === 'InService');
    fake.exitAtStart = 3;
    fake.listens = false;
    const before = launched.length;
    fake.exit(fake.started.find((p) => p.pid === serving?.pid) as FakeProcess, 1, null);
    await vi.advanceTimersByTimeAsync(49);
    const early = launched.length;
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(early).toBe(before + 1);
    expect(launched.length).toBe(before + 2);
  });

  it('fails a launch whose port does not answer within startTimeoutMs, then stops it: SIGTERM, and SIGKILL after stopTimeoutMs', async () => {
    // Prepare: a process that never listens and ignores SIGTERM.
    const fake = new FakeProcesses();
    fake.listens = false;
    fake.obeysSigterm = false;
    const g = group({ desiredCapacity: 1, startTimeoutMs: 1_000 }, fake);
    const failed = record(g, 'group:launch:failed');
    const terminated = record(g, 'group:instance:terminated');

    // Act
    g.start();
    await vi.advanceTimersByTimeAsync(999);
    const beforeDeadline = failed.length;
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(beforeDeadline).toBe(0);
    expect(failed.map((e) => e.error)).toEqual(['did not listen on 127.0.0.1:5000 within 1000 ms']);
    expect(fake.signals).toEqual(['SIGCONT 1000', 'SIGTERM 1000']);
    expect(fake.started[0]?.inputClosed).toBe(true);
    await vi.advanceTimersByTimeAsync(499);
    expect(fake.signals).not.toContain('SIGKILL 1000');
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.signals).toContain('SIGKILL 1000');
    expect(terminated[0]).toMatchObject({ instanceId: 'i-10ca1000000000001', code: null, signal: 'SIGKILL' });
  });

  it('keeps a marked instance running for shutdownDelayMs, still counted, then stops it', async () => {
    // Prepare
    const fake = new FakeProcesses();
    const g = group({ desiredCapacity: 1, shutdownDelayMs: 300 }, fake);
    g.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(g.settled()).toBe(true);

    // Act
    await g.setInstanceHealth('i-10ca1000000000001', 'Unhealthy', { respectGracePeriod: false });
    await vi.advanceTimersByTimeAsync(299);
    const during = { state: g.instance('i-10ca1000000000001')?.lifecycleState, signals: [...fake.signals], launched: fake.started.length };
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(during).toEqual({ state: 'Terminating', signals: [], launched: 1 });
    expect(fake.signals).toEqual(['SIGCONT 1000', 'SIGTERM 1000', 'SIGKILL 1000']);
    expect(g.instance('i-10ca1000000000001')).toMatchObject({ lifecycleState: 'Terminated', exit: { code: 0, signal: null } });
    expect(g.instances().at(-1)).toMatchObject({ instanceId: 'i-10ca1000000000002', replaces: 'i-10ca1000000000001' });
  });

  it("notices an exited process only after exitNoticeDelayMs (the group's own check), then replaces it", async () => {
    // Prepare
    const fake = new FakeProcesses();
    const g = group({ desiredCapacity: 1, exitNoticeDelayMs: 15_000 }, fake);
    const marked = record(g, 'group:instance:marked');
    g.start();
    await vi.advanceTimersByTimeAsync(0);

    // Act
    fake.exit(fake.started[0] as FakeProcess, null, 'SIGKILL');
    await vi.advanceTimersByTimeAsync(14_999);
    const early = marked.length;
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(early).toBe(0);
    expect(marked).toEqual([{ instanceId: 'i-10ca1000000000001', status: 'Unhealthy', by: 'exit', atMs: 1_015_000 }]);
    expect(g.instance('i-10ca1000000000002')?.replaces).toBe('i-10ca1000000000001');
  });

  it('stop: ends every process within stopTimeoutMs, even one that ignores SIGTERM, and launches nothing after', async () => {
    // Prepare
    const fake = new FakeProcesses();
    fake.obeysSigterm = false;
    const g = group({ desiredCapacity: 2 }, fake);
    g.start();
    await vi.advanceTimersByTimeAsync(0);
    let done = false;

    // Act
    void g.stop().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(499);
    const early = done;
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(early).toBe(false);
    expect(done).toBe(true);
    // Each SIGKILL twice: the stop timeout's, then the reap of whatever the leader left in its group.
    expect(fake.signals.filter((s) => s.startsWith('SIGKILL'))).toEqual(['SIGKILL 1000', 'SIGKILL 1000', 'SIGKILL 1001', 'SIGKILL 1001']);
    expect(g.instances().map((i) => i.lifecycleState)).toEqual(['Terminated', 'Terminated']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fake.started).toHaveLength(2);
  });

  it('whenSettled rejects after its timeout, saying what the group has', async () => {
    // Prepare
    const fake = new FakeProcesses();
    fake.listens = false;
    const g = group({ desiredCapacity: 1 }, fake);
    g.start();

    // Act
    const settling = g.whenSettled(2_000);
    const outcome = expect(settling).rejects.toThrow('local group local: not settled within 2000 ms (desired 1; 1 Pending/Healthy)');
    await vi.advanceTimersByTimeAsync(2_000);

    // Assess
    await outcome;
  });

  it('spreads its instances over the zones; each carries its zone, in its views and its environment', async () => {
    // Prepare
    const fake = new FakeProcesses();
    const g = group({ desiredCapacity: 4, zones: ['a', 'b', 'c'] }, fake);

    // Act
    g.start();
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    const [view] = await g.describeGroups(['local']);
    expect(view?.instances.map((i) => i.availabilityZone)).toEqual(['a', 'b', 'c', 'a']);
    expect(fake.started.map((p) => p.spec.env.AUTOHEAL_AVAILABILITY_ZONE)).toEqual(['a', 'b', 'c', 'a']);
    expect((await g.describeInstances(['i-10ca1000000000003'])).get('i-10ca1000000000003')?.availabilityZone).toBe('c');

    // Act: zone b's instance is marked; its replacement goes back to b.
    await g.setInstanceHealth('i-10ca1000000000002', 'Unhealthy', { respectGracePeriod: false });
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(g.instance('i-10ca1000000000005')).toMatchObject({ availabilityZone: 'b', replaces: 'i-10ca1000000000002', lifecycleState: 'InService' });
  });

  it("keeps a replaced instance's last output lines and exit: the terminated event carries them", async () => {
    // Prepare
    const fake = new FakeProcesses();
    const g = group({ desiredCapacity: 1, outputLines: 3 }, fake);
    const terminated = record(g, 'group:instance:terminated');
    g.start();
    await vi.advanceTimersByTimeAsync(0);
    const p = fake.started[0] as FakeProcess;

    // Act: four lines over both streams, one split across chunks, the last without a newline.
    fake.write(p, 'stdout', 'one\ntw');
    fake.write(p, 'stderr', 'oops: disk full\n');
    fake.write(p, 'stdout', 'o\nthree\nlast words');
    fake.exit(p, 70, null);
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(terminated[0]).toMatchObject({
      instanceId: 'i-10ca1000000000001',
      code: 70,
      signal: null,
      lastOutput: ['two', 'three', 'last words'],
    });
    expect(g.outputOf('i-10ca1000000000001')).toEqual(['two', 'three', 'last words']);
    expect(g.instance('i-10ca1000000000001')?.exit).toEqual({ code: 70, signal: null });
  });
});

describe('OutputRing', () => {
  it('keeps the last lines, cuts a long one, and bounds a line that never ends', () => {
    // Prepare
    const ring = new OutputRing(2);

    // Act
    ring.write('stdout', 'a\r\nb\n');
    ring.write('stdout', `${'x'.repeat(maxLineChars + 5)}\n`);
    ring.write('stderr', 'y'.repeat(maxLineChars + 1));

    // Assess
    const lines = ring.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`${'x'.repeat(maxLineChars)}… (cut at ${maxLineChars} characters)`);
    expect(lines[1]?.startsWith('y'.repeat(maxLineChars))).toBe(true);
  });

  it('keeps nothing with capacity 0', () => {
    const ring = new OutputRing(0);
    ring.write('stdout', 'a\nb');
    ring.end();
    expect(ring.lines()).toEqual([]);
  });
});
