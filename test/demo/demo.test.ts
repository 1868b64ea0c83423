import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../src/drill/demo.js';
import { failureModes } from '../../src/drill/inject.js';
import { stages } from '../../src/drill/timeline.js';
import { eventually } from '../helpers/fauxqs.js';

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

const running: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  // A failed test must not leave a demo behind (the demo's instances exit with it: stdin pipe).
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function demo(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [bin, 'demo', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
  });
  running.push(child);
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Every pid is gone (ESRCH) and every port refuses connections. */
async function nothingLeft(pids: number[], ports: number[]): Promise<void> {
  await eventually(() => pids.every((pid) => !alive(pid)), `no process left of ${pids.join(', ')}`, 5_000);
  for (const port of ports) expect(await refused(port), `port ${port} closed`).toBe(true);
}

const launchedPids = (logs: Array<Record<string, unknown>>): number[] =>
  logs.filter((l) => l.msg === 'demo: instance launched').map((l) => l.pid as number);

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
    await nothingLeft(pids, [...result.instances.map((i) => i.port), emulatorPort]);
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
    expect(t.stdout).toMatch(/i-local\d{4} +skipped: budgetSpent/);
    expect(t.stdout).toMatch(/healed in \d waves: 1\) i-local\d{4}/);
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
});
