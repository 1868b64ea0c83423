/**
 * `autoheal demo` with several observers, end to end through the built CLI (real instance
 * processes, fauxqs, observers, bridge, core): the quorum, the partition drill, the observers'
 * self-check, and false marks on a busy machine. `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../src/drill/demo.js';
import { runCli } from '../helpers/cli.js';

const fast = ['--interval-ms', '100', '--shutdown-ms', '100', '--round-timeout-ms', '20000'];
const children: Array<{ kill: (signal: NodeJS.Signals) => boolean }> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

async function demoJson(args: string[]): Promise<{ code: number | null; result: DemoResult; stdout: string }> {
  const run = await runCli(['demo', ...args, '--json'], { env: { ...process.env, LOG_LEVEL: 'warn' } });
  return { code: run.code, result: JSON.parse(run.stdout) as DemoResult, stdout: run.stdout };
}

describe('autoheal demo --observers (built CLI, real processes)', () => {
  it('observer-partition: one of 3 observers cut off from a healthy group marks nothing; its verdicts are withheld', async () => {
    // Act
    const { code, result } = await demoJson(['--failure', 'observer-partition', '--partition-ms', '4000', ...fast]);

    // Assess
    expect(code).toBe(0);
    expect(result.observers).toMatchObject({ count: 3, quorum: 2, cut: ['observer-1'], cutMethod: 'black-hole', selfCheck: true });
    expect(result.partition).toMatchObject({ marked: [], held: true });
    expect(result.falseMarkCount).toBe(0);
    expect(result.decisions.filter((d) => d.action === 'marked')).toEqual([]);
    // The cut observer knew it was cut off, and said so instead of reporting the group dead.
    expect(result.observerLog).toContainEqual(expect.objectContaining({ observer: 'observer-1', event: 'degraded', reasons: ['cutOff'] }));
    expect(result.observerLog.some((n) => n.observer === 'observer-1' && n.event === 'withheld')).toBe(true);
    expect(result.observerLog.filter((n) => n.event === 'sent' && n.state === 'unhealthy')).toEqual([]);
  });

  it('observer-partition without the self-check: the cut observer reports, the others outvote it (awaitingQuorum); the timeline says so', async () => {
    // Act
    // Without the self-check nothing guards against a probe slowed by the machine itself, so this run
    // probes calmly (3 failures of 200 ms each): two healthy observers timing out on one instance under
    // a loaded CI would be a real false mark, not the partition under test.
    const calm = ['--interval-ms', '250', '--probe-timeout-ms', '200', '--unhealthy-threshold', '3', '--shutdown-ms', '100', '--round-timeout-ms', '20000'];
    const run = await runCli(['demo', '--failure', 'observer-partition', '--partition-ms', '4000', '--no-self-check', ...calm], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/cut: black-hole/);
    expect(run.stdout).toMatch(/observer-1 reported i-10ca1\d{12} unhealthy/);
    expect(run.stdout).toMatch(/core skipped i-10ca1\d{12}: awaitingQuorum \(1 of 2 observers agree/);
    expect(run.stdout).toMatch(/marked: 0; .*outvoted \(awaitingQuorum\): [1-9]/);
    expect(run.stdout).toMatch(/held: nothing marked/);
  });

  it('observer-blind: an observer that never reached the group reports it unreachable and votes nothing about it; nothing is marked', async () => {
    // Act: no self-check, so only the reach rule stands between the blind observer and a vote.
    const { code, result, stdout } = await demoJson(['--failure', 'observer-blind', '--partition-ms', '4000', '--no-self-check', ...fast]);

    // Assess
    expect(code).toBe(0);
    expect(result.observers.cut).toEqual(['observer-1']);
    expect(result.partition?.unreachable).toContainEqual({ observer: 'observer-1', group: 'autoheal-demo', reason: expect.stringMatching(/none of its instances has passed a check/) });
    expect(result.partition?.unreachable.every((u) => u.observer === 'observer-1')).toBe(true);
    expect(result.observerLog.filter((n) => n.observer === 'observer-1' && n.event === 'sent' && n.state === 'unhealthy')).toEqual([]);
    expect(result.observerLog.some((n) => n.observer === 'observer-1' && n.event === 'withheld' && n.reasons?.includes('groupUnreachable'))).toBe(true);
    expect(result.partition).toMatchObject({ marked: [], held: true });
    expect(result.falseMarkCount).toBe(0);
    expect(JSON.parse(stdout)).toBeTruthy();
  });

  it('with one observer cut off, a real failure is still healed by the other two (quorum 2), no false mark', async () => {
    // Act
    const { code, result } = await demoJson(['--failure', 'freeze', '--partition', '1', '--rounds', '1', ...fast]);

    // Assess
    expect(code).toBe(0);
    expect(result.healed).toBe(true);
    const victim = result.rounds[0]?.victims[0];
    const marks = result.decisions.filter((d) => d.action === 'marked');
    expect(marks.map((m) => m.instanceId)).toEqual([victim?.instanceId]);
    expect(marks[0]?.detail).toMatch(/2 observers agree/);
    expect(result.observers.cut).toEqual(['observer-1']);
    expect(result.falseMarkCount).toBe(0);
  });

  it('--observers 1 keeps quorum 1 and says so; cut off with no self-check it marks at most the budget, then freezes', async () => {
    // Act: 5 instances, budget max(1, floor(0.4 × 5)) = 2.
    const { code, result } = await demoJson([
      '--observers', '1', '--instances', '5', '--failure', 'observer-partition', '--no-self-check', '--partition-ms', '12000', ...fast,
    ]);

    // Assess
    expect(code).toBe(0);
    expect(result.observers).toMatchObject({ count: 1, quorum: 1 });
    expect(result.observers.note).toMatch(/quorum 1/);
    expect(result.partition?.budget).toBe(2);
    expect(result.partition?.marked.length).toBeLessThanOrEqual(2);
    expect(result.partition?.frozen).toBeGreaterThan(0);
    // Every mark of a healthy group is a false mark, and the JSON says so.
    expect(result.falseMarkCount).toBe(result.partition?.marked.length);
    expect(result.falseMarks.map((f) => f.instanceId).sort()).toEqual([...(result.partition?.marked ?? [])].sort());
  });

  it('--instances 30 on a machine with a busy core marks no instance it did not fail', async () => {
    // Prepare: a child process that burns a core for the whole run.
    const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    children.push(burner);

    // Act
    const { code, result } = await demoJson(['--instances', '30', '--rounds', '1', '--failure', 'crash', '--interval-ms', '250', '--shutdown-ms', '100', '--round-timeout-ms', '30000']);

    // Assess
    expect(result.falseMarks).toEqual([]);
    expect(result.falseMarkCount).toBe(0);
    expect(code).toBe(0);
    expect(result.healed).toBe(true);
  });
});
