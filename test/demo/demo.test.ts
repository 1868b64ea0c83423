import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../src/drill/demo.js';
import { failureModes } from '../../src/drill/inject.js';
import { stages } from '../../src/drill/timeline.js';
import { eventually } from '../helpers/fauxqs.js';
import { environment, groupMembers, listeners, refused, running } from '../helpers/processes.js';

// Spawns the built CLI (`npm run build` first, as `npm test` does): real instance processes,
// fauxqs, prober, bridge and core, exactly as a user runs `autoheal demo`.
const bin = fileURLToPath(new URL('../../bin/autoheal.js', import.meta.url));

/** Small and quick: two instances, a 100 ms probe, a short shutdown. */
const lean = ['--instances', '2', '--rounds', '1', '--interval-ms', '100', '--shutdown-ms', '100', '--round-timeout-ms', '20000'];

interface Run {
  child: ChildProcessWithoutNullStreams;
  /** Log lines (JSON) read from stderr so far. */
  logs: Array<Record<string, unknown>>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const demos: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  // A failed test must not leave a demo behind (its reaper ends the instances with it).
  for (const child of demos.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function demo(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [bin, 'demo', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
  });
  demos.push(child);
  const logs: Array<Record<string, unknown>> = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a log line (the interrupt notice).
      }
    }
  });
  child.stdin.end();
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, logs, done };
}

/**
 * Every pid is gone, every process group too (an instance and whatever its command started), and
 * no instance's port is held by anything of the instance's: a process that left its group (a
 * daemon its command started) still carries the instance's PORT in its environment. A port that
 * answers may be another test's server that got the freed port since, so the listener's
 * environment (or its pid) decides, not the connection alone. Each instance leads its own
 * process group.
 */
async function nothingLeft(pids: number[], ports: number[], groups: number[] = pids): Promise<void> {
  await eventually(
    () => pids.every((pid) => !running(pid)) && groups.every((pgid) => groupMembers(pgid).length === 0),
    `no process left of ${pids.join(', ')}`,
    10_000,
  );
  for (const port of ports) {
    if (await refused(port)) continue;
    const ours = listeners(port).filter(
      (pid) => pids.includes(pid) || (environment(pid).PORT === String(port) && environment(pid).AUTOHEAL_INSTANCE_ID !== undefined),
    );
    expect(ours, `port ${port} held by an instance left behind`).toEqual([]);
  }
}

const launchedPids = (logs: Array<Record<string, unknown>>): number[] =>
  logs.filter((l) => l.msg === 'demo: instance launched').map((l) => l.pid as number);
const launchedPorts = (logs: Array<Record<string, unknown>>): number[] =>
  logs.filter((l) => l.msg === 'demo: instance launched').map((l) => l.port as number);
const reaperPids = (logs: Array<Record<string, unknown>>): number[] =>
  logs.filter((l) => l.msg === 'demo: reaper started').map((l) => l.pid as number);

/** A `--command` instance: a Node HTTP server on 127.0.0.1:$PORT, started by the shell. */
const serverCommand = `${JSON.stringify(process.execPath)} -e "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT,'127.0.0.1')"`;

describe('autoheal demo (built CLI, real processes)', () => {
  it.each(failureModes)('heals a %s instance; --json carries every stage, the ids and healed; nothing is left behind', async (failure) => {
    // Act
    const run = demo([...lean, '--failure', failure, '--json']);
    const { code, stdout } = await run.done;

    // Assess
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as DemoResult;
    expect(result).toMatchObject({ healed: true, aborted: false, summary: { rounds: 1, healedRounds: 1 } });
    const [round] = result.rounds;
    expect(round).toMatchObject({ round: 1, failure, healed: true });
    const [victim] = round?.victims ?? [];
    for (const stage of stages) expect(victim?.stagesMs[stage], stage).toBeTypeOf('number');
    expect(victim).toMatchObject({ healed: true, markedBy: 'healer', wave: 1 });
    const ids = result.instances.map((i) => i.instanceId);
    expect(ids).toContain(victim?.instanceId);
    expect(result.instances.find((i) => i.instanceId === victim?.replacementId)?.replaces).toBe(victim?.instanceId);
    expect(result.instances.find((i) => i.instanceId === victim?.instanceId)?.pid).toBe(victim?.pid);
    const pids = result.instances.map((i) => i.pid);
    expect(launchedPids(run.logs).sort()).toEqual([...pids].sort());
    const emulatorPort = Number(new URL(result.endpoint ?? 'http://127.0.0.1:0').port);
    // fauxqs runs inside the demo process: its port is checked against the demo's pid.
    await nothingLeft([...pids, run.child.pid ?? 0], [...result.instances.map((i) => i.port), emulatorPort], pids);
  });

  it('keeps a mass failure within the unhealthy budget: the rest are skipped budgetSpent, healing in waves', async () => {
    // Prepare: 4 of 5 frozen; budget max(1, floor(0.4 × 5)) = 2.
    const args = ['--instances', '5', '--rounds', '1', '--interval-ms', '100', '--shutdown-ms', '1000', '--failure', 'freeze', '--mass', '0.8'];

    // Act
    const json = demo([...args, '--json']);
    const text = demo(args);
    const [j, t] = await Promise.all([json.done, text.done]);

    // Assess: the JSON
    expect(j.code).toBe(0);
    const result = JSON.parse(j.stdout) as DemoResult;
    const victims = result.rounds[0]?.victims ?? [];
    expect(victims).toHaveLength(4);
    expect(result.healed).toBe(true);
    expect(victims.flatMap((v) => v.skipped.map((s) => s.reason))).toContain('budgetSpent');
    expect(result.summary.skippedBudgetSpent).toBeGreaterThan(0);
    const perWave = new Map<number, number>();
    for (const v of victims) perWave.set(v.wave ?? 0, (perWave.get(v.wave ?? 0) ?? 0) + 1);
    expect(perWave.size).toBeGreaterThanOrEqual(2);
    for (const [wave, count] of perWave) expect(count, `wave ${wave}`).toBeLessThanOrEqual(2);

    // Assess: what people see
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/i-10ca1\d{12} +skipped: budgetSpent/);
    expect(t.stdout).toMatch(/healed in \d waves: 1\) i-10ca1\d{12}/);
    expect(t.stdout).toMatch(/summary: 1\/1 rounds healed/);
    await nothingLeft([...result.instances.map((i) => i.pid), ...launchedPids(text.logs)], result.instances.map((i) => i.port));
  });

  it('stops cleanly on SIGINT in the middle of a round, frozen instance included, and exits 1', async () => {
    // Prepare
    const run = demo([...lean, '--rounds', '20', '--failure', 'freeze', '--json']);
    await eventually(() => run.logs.some((l) => l.msg === 'demo: round started'), 'a round started', 20_000);

    // Act
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;

    // Assess
    expect(code).toBe(1);
    expect(stderr).toMatch(/SIGINT: stopping/);
    const result = JSON.parse(stdout) as DemoResult;
    expect(result).toMatchObject({ healed: false, aborted: true });
    const pids = launchedPids(run.logs);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(result.instances.map((i) => i.pid).sort()).toEqual([...pids].sort());
    await nothingLeft(pids, result.instances.map((i) => i.port));
  });
  it.each([
    ['built-in', []],
    ['--command', ['--command', serverCommand]],
  ])('leaves no %s instance behind when SIGKILLed in the middle of a round with a frozen instance', async (_kind, extra) => {
    // Prepare
    const run = demo([...lean, '--rounds', '20', '--failure', 'freeze', ...extra]);
    await eventually(() => run.logs.some((l) => l.msg === 'demo: round started'), 'a round started', 30_000);
    const pids = launchedPids(run.logs);
    const ports = launchedPorts(run.logs);
    const reapers = reaperPids(run.logs);
    const runningBefore = pids.filter((pid) => groupMembers(pid).length > 0);

    // Act
    run.child.kill('SIGKILL');
    await run.done;

    // Assess
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(reapers).toHaveLength(1);
    expect(runningBefore.length, 'instances running when the demo was killed').toBeGreaterThanOrEqual(2);
    await nothingLeft([...pids, ...reapers], ports, pids);
  });

  it('stops promptly on Ctrl-C during the start-up of 30 instances, leaving nothing behind', async () => {
    // Prepare
    const run = demo(['--instances', '30', '--json']);
    await eventually(() => launchedPids(run.logs).length >= 1, 'the first instance launched', 30_000);

    // Act
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;

    // Assess
    expect(code).toBe(1);
    expect(stderr).toMatch(/SIGINT: stopping/);
    expect(JSON.parse(stdout)).toMatchObject({ healed: false, aborted: true, rounds: [] });
    await nothingLeft([...launchedPids(run.logs), ...reaperPids(run.logs)], launchedPorts(run.logs), launchedPids(run.logs));
  });

  it('says at once, with exit code 2 and no stack trace, that a --command exited before it listened', async () => {
    // Act
    const run = demo(['--instances', '2', '--command', 'exit 3']);
    const { code, stdout, stderr } = await run.done;

    // Assess
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /autoheal: the demo's instances could not start: --command "exit 3" \(instance i-10ca1\d{12}\) exited with code 3 before it listened on 127\.0\.0\.1:\d+; the command must serve HTTP on 127\.0\.0\.1:\$PORT\n$/,
    );
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says, with exit code 2 and no stack trace, that a --command did not listen within --start-timeout-ms, and leaves it not running', async () => {
    // Act
    const run = demo(['--instances', '1', '--command', 'sleep 600', '--start-timeout-ms', '1000']);
    const { code, stderr } = await run.done;

    // Assess
    expect(code).toBe(2);
    expect(stderr).toMatch(/--command "sleep 600" \(instance i-10ca1000000000001\) did not listen on 127\.0\.0\.1:\d+ within 1000 ms; the command must serve HTTP/);
    expect(stderr).not.toMatch(/\n\s+at /);
    const pids = launchedPids(run.logs);
    expect(pids).toHaveLength(1);
    await nothingLeft([...pids, ...reaperPids(run.logs)], [], pids);
  });
});
