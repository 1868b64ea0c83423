/**
 * `autoheal history`: the healer's decisions read back in time order — from its log group through
 * Logs Insights (at the SDK boundary with aws-sdk-client-mock: moto's Logs Insights returns only
 * @timestamp/@message and applies no filter, so it cannot run this query), and from a demo run.
 */
import { CloudWatchLogsClient, GetQueryResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { historyFilter, runHistory } from '../../src/cli/commands/history.js';
import { decisionsQuery, queryDecisions, readDecisionsFile } from '../../src/operate/history.js';
import { runCli } from '../helpers/cli.js';

const logs = mockClient(CloudWatchLogsClient);
const client = new CloudWatchLogsClient({ region: 'eu-west-1' });
const nowMs = Date.parse('2026-05-14T21:00:00Z');

/** A row as Logs Insights returns it: every requested field that the line has, plus @ptr. */
const row = (fields: Record<string, string>) => [...Object.entries(fields).map(([field, value]) => ({ field, value })), { field: '@ptr', value: 'CmAKJwoj' }];

beforeEach(() => logs.reset());

describe('history from the healer log group (Logs Insights)', () => {
  it('starts the query over both decision messages for the window and group, polls until complete, and lists marks, skips and failures in time order', async () => {
    // Prepare: the query runs once, then completes; rows as Insights returns the healer's pino lines.
    logs.on(StartQueryCommand).resolves({ queryId: 'q-1' });
    logs
      .on(GetQueryResultsCommand)
      .resolvesOnce({ status: 'Running', results: [] })
      .resolves({
        status: 'Complete',
        results: [
          row({ '@timestamp': '2026-05-14 20:11:53.500', time: '2026-05-14T20:11:53.500Z', msg: 'verdict', instanceId: 'i-0000000000000000b', group: 'workers', action: 'skip', reason: 'budgetSpent', detail: '1 of budget 1 Unhealthy or not yet replaced (0.4 of desired 3)', source: 'eventbridge-alarm', eventId: 'e2' }),
          row({ '@timestamp': '2026-05-14 20:11:53.120', time: '2026-05-14T20:11:53.120Z', msg: 'verdict', instanceId: 'i-0000000000000000a', group: 'workers', action: 'mark', reason: 'unhealthy', detail: 'budget 1 of 1', source: 'eventbridge-alarm', eventId: 'e1' }),
          row({ '@timestamp': '2026-05-14 20:40:00.000', msg: 'verdict: work failed', instanceId: 'i-0000000000000000c', group: 'workers', action: 'mark', reason: 'unhealthy', source: 'eventbridge-alarm', eventId: 'e3', error: 'autoscaling:SetInstanceHealth: AccessDenied' }),
        ],
      });

    // Act
    const filter = historyFilter({ since: '12h', group: 'workers' }, nowMs);
    const { decisions, truncated } = await queryDecisions(client, '/aws/lambda/autoheal', filter, { pollMs: 0 });

    // Assess
    expect(logs.commandCalls(StartQueryCommand)[0]?.args[0].input).toEqual({
      logGroupName: '/aws/lambda/autoheal',
      startTime: (nowMs - 12 * 3_600_000) / 1000,
      endTime: nowMs / 1000,
      queryString: decisionsQuery('workers'),
      limit: 10_000,
    });
    expect(decisionsQuery('workers')).toContain('| filter msg = "verdict" or msg = "verdict: work failed"');
    expect(decisionsQuery('workers')).toContain('| filter group = "workers"');
    expect(logs.commandCalls(GetQueryResultsCommand)).toHaveLength(2);
    expect(truncated).toBe(false);
    expect(decisions.map((d) => [d.at, d.action, d.reason, d.instanceId])).toEqual([
      ['2026-05-14T20:11:53.120Z', 'mark', 'unhealthy', 'i-0000000000000000a'],
      ['2026-05-14T20:11:53.500Z', 'skip', 'budgetSpent', 'i-0000000000000000b'],
      ['2026-05-14T20:40:00.000Z', 'failed', 'unhealthy', 'i-0000000000000000c'],
    ]);
    expect(decisions[2]).toMatchObject({ error: 'autoscaling:SetInstanceHealth: AccessDenied', group: 'workers' });
  });

  it('a query that fails or never completes is an error naming the action, and the command exits 1', async () => {
    // Prepare
    logs.on(StartQueryCommand).resolves({ queryId: 'q-2' });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Failed' });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // Act
      const failed = queryDecisions(client, 'g', historyFilter({ since: '1h' }, nowMs), { pollMs: 0 });
      const code = await runHistory({ since: '1h', logGroup: 'g' }, client, nowMs);
      const usage = await runHistory({ since: 'yesterday', logGroup: 'g' }, client, nowMs);
      const neither = await runHistory({ since: '1h' }, client, nowMs);

      // Assess
      await expect(failed).rejects.toMatchObject({ action: 'logs:GetQueryResults', message: expect.stringMatching(/q-2 ended Failed/) });
      expect([code, usage, neither]).toEqual([1, 2, 2]);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--since: expected a duration such as 12h/);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('history from a file', () => {
  it('reads decision lines (a demo file or a healer log), skipping other lines, filtered by time and group', async () => {
    // Prepare
    const file = join(mkdtempSync(join(tmpdir(), 'autoheal-history-')), 'healer.log');
    writeFileSync(
      file,
      [
        JSON.stringify({ level: 'info', time: '2026-05-14T20:00:00.000Z', msg: 'verdict', instanceId: 'i-1', group: 'b', action: 'mark', reason: 'unhealthy' }),
        'not json',
        JSON.stringify({ level: 'warn', time: '2026-05-14T20:00:01.000Z', msg: 'group held', group: 'a', reason: 'frozen' }),
        JSON.stringify({ level: 'info', time: '2026-05-14T19:00:00.000Z', msg: 'verdict', instanceId: 'i-2', group: 'a', action: 'skip', reason: 'frozen', detail: '4 of 5 reported down' }),
        JSON.stringify({ level: 'info', time: '2026-05-13T19:00:00.000Z', msg: 'verdict', instanceId: 'i-3', group: 'a', action: 'skip', reason: 'paused' }),
      ].join('\n'),
    );

    // Act
    const all = await readDecisionsFile(file, historyFilter({ since: '12h' }, nowMs));
    const a = await readDecisionsFile(file, historyFilter({ since: '12h', group: 'a' }, nowMs));

    // Assess
    expect(all.map((d) => [d.instanceId, d.action, d.reason])).toEqual([
      ['i-2', 'skip', 'frozen'],
      ['i-1', 'mark', 'unhealthy'],
    ]);
    expect(a.map((d) => d.instanceId)).toEqual(['i-2']);
    await expect(readDecisionsFile(join(file, 'missing'), historyFilter({ since: '1h' }, nowMs))).rejects.toThrow(/--file .*cannot be read/);
  });

  it('lists the decisions of a demo run (the built CLI): the file the demo names, its marks in time order', async () => {
    // Act: a small demo, then history on the file it names.
    const demo = await runCli(['demo', '--instances', '2', '--rounds', '1', '--interval-ms', '100', '--shutdown-ms', '100', '--round-timeout-ms', '20000', '--json']);
    expect(demo.code).toBe(0);
    const { decisionsFile } = JSON.parse(demo.stdout) as { decisionsFile: string };
    const history = await runCli(['history', '--file', decisionsFile, '--json']);
    const table = await runCli(['history', '--file', decisionsFile, '--group', 'autoheal-demo']);

    // Assess
    expect(history.code).toBe(0);
    const { decisions } = JSON.parse(history.stdout) as { decisions: Array<{ at: string; action: string; reason: string; group: string }> };
    expect(decisions.filter((d) => d.action === 'mark')).toEqual([expect.objectContaining({ reason: 'unhealthy', group: 'autoheal-demo' })]);
    expect(decisions.map((d) => d.at)).toEqual([...decisions.map((d) => d.at)].sort());
    expect(table.stdout).toMatch(/autoheal-demo\s+i-\S+\s+mark/);
  }, 60_000);
});
