import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { LocalGroup, localGroupOptionsSchema, type LocalGroupEvents } from '../../../src/fleet/local/local-group.js';
import { Reaper } from '../../../src/fleet/local/reaper.js';
import { eventually } from '../../helpers/fauxqs.js';
import { running } from '../../helpers/processes.js';

const groups: LocalGroup[] = [];
function group(options: ConstructorParameters<typeof LocalGroup>[0]): LocalGroup {
  const g = new LocalGroup(options);
  groups.push(g);
  return g;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function record(g: LocalGroup): string[] {
  const seen: string[] = [];
  const names: Array<Exclude<keyof LocalGroupEvents, 'group:reaper:started'>> = [
    'group:instance:launched',
    'group:instance:in-service',
    'group:instance:terminating',
    'group:instance:terminated',
  ];
  for (const name of names) g.events.on(name, (e) => seen.push(`${name.split(':')[2]} ${e.instanceId}`));
  return seen;
}

afterEach(async () => {
  await Promise.all(groups.splice(0).map((g) => g.stop()));
});

describe('LocalGroup', () => {
  it('runs the desired instances, each answering /health, and describes them like a fleet', async () => {
    // Prepare
    const g = group({ name: 'web', desiredCapacity: 2, healthCheckGracePeriodSeconds: 30 });

    // Act
    g.start();
    await g.whenSettled();

    // Assess
    const instances = g.instances();
    expect(instances.map((i) => i.instanceId)).toEqual(['i-10ca1000000000001', 'i-10ca1000000000002']);
    for (const i of instances) {
      const res = await fetch(`http://127.0.0.1:${i.port}/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', instanceId: i.instanceId });
    }
    const views = await g.describeInstances(['i-10ca1000000000001', 'i-nope']);
    expect([...views.keys()]).toEqual(['i-10ca1000000000001']);
    expect(views.get('i-10ca1000000000001')).toMatchObject({ groupName: 'web', lifecycleState: 'InService', healthStatus: 'Healthy' });
    const [view] = await g.describeGroups(['web', 'other']);
    expect(view).toMatchObject({ name: 'web', desiredCapacity: 2, healthCheckGracePeriodSeconds: 30, tags: { 'autoheal:enabled': 'true' } });
    expect(view?.instances).toHaveLength(2);
    expect(await g.describeGroups(['other'])).toEqual([]);
  });

  it('terminates an instance marked Unhealthy, then launches its replacement', async () => {
    // Prepare
    const g = group({ desiredCapacity: 1 });
    g.start();
    await g.whenSettled();
    const seen = record(g);
    const oldPid = g.pidOf('i-10ca1000000000001') as number;

    // Act
    const replaced = g.events.once('group:instance:in-service');
    await g.setInstanceHealth('i-10ca1000000000001', 'Unhealthy', { respectGracePeriod: true });
    const inService = await replaced;

    // Assess
    expect(inService).toMatchObject({ instanceId: 'i-10ca1000000000002', replaces: 'i-10ca1000000000001' });
    expect(seen).toEqual([
      'terminating i-10ca1000000000001',
      'terminated i-10ca1000000000001',
      'launched i-10ca1000000000002',
      'in-service i-10ca1000000000002',
    ]);
    expect(alive(oldPid)).toBe(false);
    expect((await g.describeInstances(['i-10ca1000000000001'])).size).toBe(0);
  });

  it('keeps a Terminating instance running for shutdownDelayMs, and stops it at once when the group stops', async () => {
    // Prepare
    const g = group({ desiredCapacity: 1, shutdownDelayMs: 60_000 });
    g.start();
    await g.whenSettled();
    const pid = g.pidOf('i-10ca1000000000001') as number;

    // Act
    await g.setInstanceHealth('i-10ca1000000000001', 'Unhealthy', { respectGracePeriod: false });

    // Assess: still Terminating, still running (counts against the budget as on AWS)
    expect(g.instance('i-10ca1000000000001')?.lifecycleState).toBe('Terminating');
    expect((await g.describeGroups(['local']))[0]?.instances).toMatchObject([{ instanceId: 'i-10ca1000000000001', healthStatus: 'Unhealthy' }]);
    expect(alive(pid)).toBe(true);
    await g.stop();
    expect(g.instance('i-10ca1000000000001')?.lifecycleState).toBe('Terminated');
    await eventually(() => !alive(pid), 'the process gone', 5_000);
  });

  it('launches the replacement first when asked, and terminates the old one once it is InService', async () => {
    // Prepare
    const g = group({ desiredCapacity: 1, replacement: 'launch-first' });
    g.start();
    await g.whenSettled();
    const seen = record(g);

    // Act
    const terminated = g.events.once('group:instance:terminated');
    await g.setInstanceHealth('i-10ca1000000000001', 'Unhealthy', { respectGracePeriod: false });
    await terminated;
    await g.whenSettled();

    // Assess
    expect(seen).toEqual([
      'launched i-10ca1000000000002',
      'in-service i-10ca1000000000002',
      'terminating i-10ca1000000000001',
      'terminated i-10ca1000000000001',
    ]);
  });

  it('replaces a process that exited on its own', async () => {
    // Prepare
    const g = group({ desiredCapacity: 1 });
    g.start();
    await g.whenSettled();
    const marked = g.events.once('group:instance:marked');

    // Act
    process.kill(g.pidOf('i-10ca1000000000001') as number, 'SIGKILL');
    const replacement = await g.events.once('group:instance:in-service');

    // Assess
    expect(await marked).toMatchObject({ instanceId: 'i-10ca1000000000001', status: 'Unhealthy', by: 'exit' });
    expect(replacement.replaces).toBe('i-10ca1000000000001');
  });

  it('ignores a mark during the grace period when asked to respect it, and accepts it otherwise', async () => {
    // Prepare
    const g = group({ desiredCapacity: 1, healthCheckGracePeriodSeconds: 300 });
    g.start();
    await g.whenSettled();
    const ignored = g.events.once('group:instance:mark-ignored');

    // Act
    await g.setInstanceHealth('i-10ca1000000000001', 'Unhealthy', { respectGracePeriod: true });

    // Assess
    expect(await ignored).toMatchObject({ instanceId: 'i-10ca1000000000001', reason: 'in grace period' });
    expect(g.instance('i-10ca1000000000001')).toMatchObject({ lifecycleState: 'InService', healthStatus: 'Healthy' });
    const [view] = await g.describeGroups(['local']);
    expect(view?.instances[0]?.launchedAt).toBeInstanceOf(Date);

    await g.setInstanceHealth('i-10ca1000000000001', 'Unhealthy', { respectGracePeriod: false });
    expect(g.instance('i-10ca1000000000001')?.lifecycleState).toBe('Terminating');
  });

  it('rejects a mark for an instance it does not have, as not retryable', async () => {
    const g = group({ desiredCapacity: 0 });
    await expect(g.setInstanceHealth('i-nope', 'Unhealthy', { respectGracePeriod: true })).rejects.toMatchObject({
      name: 'RemoteError',
      retryable: false,
    });
  });

  it('stops every child, frozen ones included, and leaves no process behind', async () => {
    // Prepare
    const g = group({ desiredCapacity: 3, stopTimeoutMs: 500 });
    g.start();
    await g.whenSettled();
    const pids = g.livePids();
    process.kill(pids[0] as number, 'SIGSTOP');

    // Act
    await g.stop();

    // Assess
    expect(pids).toHaveLength(3);
    await eventually(() => pids.every((pid) => !alive(pid)), 'every child gone', 5_000);
  });

  it('runs a user command given $PORT, and backs off when the command cannot start', async () => {
    // Prepare
    const server = `${JSON.stringify(process.execPath)} -e "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT,'127.0.0.1')"`;
    const good = group({ desiredCapacity: 1, command: server });
    const bad = group({ desiredCapacity: 1, command: 'exit 3', startTimeoutMs: 1_000 });
    const failures: string[] = [];
    bad.events.on('group:launch:failed', (e) => failures.push(e.error));

    // Act
    good.start();
    bad.start();
    await good.whenSettled();
    await eventually(() => failures.length >= 2, 'two launch failures');

    // Assess
    const [instance] = good.instances();
    expect(await (await fetch(`http://127.0.0.1:${instance?.port}/`)).text()).toBe('ok');
    expect(failures[0]).toMatch(/^exited with code 3 before it listened on 127\.0\.0\.1:\d+$/);
  });

  it('rejects unknown options with the option named', () => {
    expect(() => localGroupOptionsSchema.parse({ desiredCapacty: 3 })).toThrow(/desiredCapacty/);
    expect(() => localGroupOptionsSchema.parse({ desiredCapacity: 500 })).toThrow(/at most 200/);
  });
  it('has a reaper that SIGKILLs every listed process group when its input ends, frozen ones included, and spares the unlisted', async () => {
    // Prepare: three process groups of their own; one frozen; one listed then unlisted.
    const sleeper = (): number => {
      const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
      return child.pid as number;
    };
    const [frozen, plain, unlisted] = [sleeper(), sleeper(), sleeper()];
    process.kill(-frozen, 'SIGSTOP');
    const started: number[] = [];
    const reaper = new Reaper({ started: (pid) => started.push(pid) });
    reaper.add(frozen);
    reaper.add(plain);
    reaper.add(unlisted);
    reaper.remove(unlisted);

    try {
      // Act: what the kernel does when the group's process dies (its end of the pipe closes).
      reaper.close();

      // Assess
      await eventually(() => !running(frozen) && !running(plain), 'the listed groups killed', 10_000);
      await eventually(() => started.every((pid) => !running(pid)), 'the reaper exited', 10_000);
      expect(started).toHaveLength(1);
      expect(running(unlisted)).toBe(true);
    } finally {
      process.kill(-unlisted, 'SIGKILL');
    }
  });

  it('starts its reaper with the first instance and ends it when the group stops', async () => {
    // Prepare
    const g = group({ desiredCapacity: 1 });
    const reapers: number[] = [];
    g.events.on('group:reaper:started', (e) => reapers.push(e.pid));

    // Act
    g.start();
    await g.whenSettled();
    const pid = g.reaperPid;
    await g.stop();

    // Assess
    expect(reapers).toEqual([pid]);
    await eventually(() => !running(pid as number), 'the reaper exited', 10_000);
  });

  it("keeps a replaced instance's evidence: the built-in server's last lines and how it ended", async () => {
    // Prepare
    const g = group({ desiredCapacity: 1 });
    g.start();
    await g.whenSettled();
    const pid = g.pidOf('i-10ca1000000000001') as number;
    process.kill(pid, 'SIGUSR1');
    await eventually(() => g.outputOf('i-10ca1000000000001').some((l) => l.includes('"sick"')), 'the sick line read');
    const terminated = g.events.once('group:instance:terminated');

    // Act
    await g.setInstanceHealth('i-10ca1000000000001', 'Unhealthy', { respectGracePeriod: false });
    const gone = await terminated;

    // Assess: it listened, turned sick on SIGUSR1, closed when the group stopped it (SIGTERM, or
    // the stdin the group closes at the same time, whichever it read first) and exited 0.
    expect(gone).toMatchObject({ instanceId: 'i-10ca1000000000001', code: 0, signal: null });
    const lines = gone.lastOutput.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 2)).toEqual([
      { event: 'listening', port: g.instance('i-10ca1000000000001')?.port, pid },
      { event: 'sick', via: 'SIGUSR1' },
    ]);
    expect(lines.slice(2)).toEqual([expect.objectContaining({ event: 'closing' })]);
  });

  it("captures a command's stdout and stderr, and a kill's signal", async () => {
    // Prepare: a server that says something on each stream.
    const script = "console.log('ready on', process.env.PORT); console.error('warning: cache cold'); require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT,'127.0.0.1')";
    const g = group({ desiredCapacity: 1, command: `${JSON.stringify(process.execPath)} -e ${JSON.stringify(script)}`, zones: ['z1', 'z2'] });
    g.start();
    await g.whenSettled();
    const [instance] = g.instances();
    await eventually(() => g.outputOf(instance?.instanceId ?? '').length === 2, 'both lines read');
    const terminated = g.events.once('group:instance:terminated');

    // Act
    process.kill(instance?.pid as number, 'SIGKILL');
    const gone = await terminated;

    // Assess
    expect(instance?.availabilityZone).toBe('z1');
    expect(gone).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect([...gone.lastOutput].sort()).toEqual([`ready on ${instance?.port}`, 'warning: cache cold']);
  });
});
