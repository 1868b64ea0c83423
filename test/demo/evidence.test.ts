/**
 * Evidence of what was replaced, locally (issue 16): a demo's decisions file carries, beside each
 * mark, what the instance left when it was replaced; `autoheal history --file` attaches it to the
 * mark and prints it. The file's lines here are as the demo writes them; the last test runs the
 * built CLI end to end (`npm run build` first).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderHistory } from '../../src/cli/commands/history.js';
import type { DemoResult } from '../../src/drill/demo.js';
import { appendEvidence, evidenceOfLogLine, readDecisionsFile } from '../../src/operate/history.js';
import { runCli } from '../helpers/cli.js';

const all = { sinceMs: 0, untilMs: Date.parse('2100-01-01T00:00:00Z') };
const id = 'i-10ca1000000000001';
const verdictLine = (time: string, action: 'mark' | 'skip', reason: string) =>
  JSON.stringify({ time, msg: 'verdict', action, reason, group: 'autoheal-demo', instanceId: id, detail: null, source: 'probe', eventId: `e-${time}` });

describe('evidence in a decisions file', () => {
  it('attaches each evidence line to the latest mark of its instance before it, and prints it under the mark', async () => {
    // Prepare: two marks of the same instance id; the evidence follows the second.
    const file = join(mkdtempSync(join(tmpdir(), 'autoheal-evidence-')), 'decisions.jsonl');
    writeFileSync(
      file,
      `${[
        verdictLine('2026-05-14T20:00:00.000Z', 'mark', 'unhealthy'),
        verdictLine('2026-05-14T20:00:05.000Z', 'mark', 'unhealthy'),
        verdictLine('2026-05-14T20:00:05.100Z', 'skip', 'alreadyUnhealthy'),
      ].join('\n')}\n`,
    );
    appendEvidence(file, {
      atMs: Date.parse('2026-05-14T20:00:05.600Z'),
      group: 'autoheal-demo',
      instanceId: id,
      exit: { code: null, signal: 'SIGKILL' },
      lastOutput: ['{"event":"listening","port":4001}', 'panic: out of memory'],
      availabilityZone: 'b',
    });

    // Act
    const decisions = await readDecisionsFile(file, all);

    // Assess
    expect(decisions.map((d) => d.evidence !== undefined)).toEqual([false, true, false]);
    expect(decisions[1]?.evidence).toEqual({
      at: '2026-05-14T20:00:05.600Z',
      exit: { code: null, signal: 'SIGKILL' },
      lastOutput: ['{"event":"listening","port":4001}', 'panic: out of memory'],
      availabilityZone: 'b',
    });
    expect(renderHistory(decisions).split('\n').slice(1, 5)).toEqual([
      expect.stringMatching(/^2026-05-14T20:00:05.000Z {2}autoheal-demo\s+i-10ca1000000000001 {2}mark/),
      `${' '.repeat(26)}replaced: killed by SIGKILL in zone b; last output:`,
      `${' '.repeat(28)}| {"event":"listening","port":4001}`,
      `${' '.repeat(28)}| panic: out of memory`,
    ]);
  });

  it.each([
    ['not evidence', { msg: 'verdict', instanceId: id, time: '2026-05-14T20:00:00Z', lastOutput: [] }],
    ['no instance', { msg: 'evidence', time: '2026-05-14T20:00:00Z', exit: { code: 0, signal: null }, lastOutput: [] }],
    ['no output list', { msg: 'evidence', instanceId: id, time: '2026-05-14T20:00:00Z', exit: { code: 0, signal: null }, lastOutput: 'x' }],
    ['an exit code of the wrong type', { msg: 'evidence', instanceId: id, time: '2026-05-14T20:00:00Z', exit: { code: '0', signal: null }, lastOutput: [] }],
    ['no exit', { msg: 'evidence', instanceId: id, time: '2026-05-14T20:00:00Z', lastOutput: [] }],
  ])('skips a line with %s', (_what, line) => {
    expect(evidenceOfLogLine(line)).toBeUndefined();
  });

  it('keeps only the string lines of a hand-edited output list', () => {
    expect(evidenceOfLogLine({ msg: 'evidence', instanceId: id, time: '2026-05-14T20:00:00Z', exit: { code: 1, signal: null }, lastOutput: ['a', 2, 'b'] })?.evidence.lastOutput).toEqual([
      'a',
      'b',
    ]);
  });
});

describe('autoheal demo --json: evidence and zones (built CLI, real processes)', () => {
  it('gives, for every healed round, the verdict and the replaced instance\'s last lines; history --file prints them; the zones are balanced and named', async () => {
    // Act: a 200 ms probe timeout, so a loaded machine's slow 503 is still read as the 503 it is
    // (at 80 ms a fresh-clone run saw "timeout after 80 ms" as the evidence instead).
    const demo = await runCli(
      ['demo', '--instances', '3', '--zones', 'a,b,c', '--rounds', '2', '--failure', 'sick', '--interval-ms', '250', '--probe-timeout-ms', '200', '--shutdown-ms', '100', '--round-timeout-ms', '20000', '--json'],
      { env: { ...process.env, LOG_LEVEL: 'warn' } },
    );

    // Assess: the JSON
    expect(demo.code).toBe(0);
    const result = JSON.parse(demo.stdout) as DemoResult;
    expect(result.rounds).toHaveLength(2);
    const first = result.instances.slice(0, 3).map((i) => i.availabilityZone);
    expect(first).toEqual(['a', 'b', 'c']);
    for (const round of result.rounds) {
      expect(round.healed).toBe(true);
      const [victim] = round.victims;
      expect(round.evidence).toHaveLength(1);
      const [evidence] = round.evidence;
      expect(evidence).toMatchObject({ instanceId: victim?.instanceId, availabilityZone: victim?.availabilityZone, markedBy: 'healer' });
      expect(evidence?.verdict).toMatchObject({ action: 'mark', reason: 'unhealthy', source: 'probe', evidence: expect.stringMatching(/status 503/) });
      expect(evidence?.exit).toEqual({ code: 0, signal: null });
      const lines = evidence?.lastOutput.map((l) => JSON.parse(l) as { event: string }) ?? [];
      expect(lines.map((l) => l.event)).toEqual(['listening', 'sick', 'closing']);
      // The replacement went back to the zone the victim left.
      expect(result.instances.find((i) => i.instanceId === victim?.replacementId)?.availabilityZone).toBe(victim?.availabilityZone);
    }

    // Assess: history over the demo's file
    const history = await runCli(['history', '--file', result.decisionsFile as string, '--since', '1h']);
    expect(history.code).toBe(0);
    expect(history.stdout.match(/replaced: exited with code 0 in zone [abc]; last output:/g)).toHaveLength(2);
    expect(history.stdout).toMatch(/\| \{"event":"sick","via":"SIGUSR1"\}/);
  });

  it('fails a whole zone with --zone, and refuses a zone that is not one of --zones', async () => {
    // Act
    const demo = await runCli(
      ['demo', '--instances', '6', '--zones', 'a,b,c', '--zone', 'b', '--rounds', '1', '--failure', 'crash', '--interval-ms', '100', '--shutdown-ms', '100', '--round-timeout-ms', '20000', '--json'],
      { env: { ...process.env, LOG_LEVEL: 'warn' } },
    );
    const refused = await runCli(['demo', '--zones', 'a,b', '--zone', 'c']);

    // Assess: both of zone b's instances failed at once, and the timeline says where each was.
    const result = JSON.parse(demo.stdout) as DemoResult;
    const [round] = result.rounds;
    expect(round?.victims.map((v) => v.availabilityZone)).toEqual(['b', 'b']);
    expect(result.falseMarkCount).toBe(0);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/zone must be one of zones/);
  });
});
