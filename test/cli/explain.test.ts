import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { explainText } from '../../src/cli/commands/explain.js';
import { maxInputBytes } from '../../src/cli/input.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/events/${name}`, import.meta.url));
const run = (args: string[], stdin?: string): Promise<CliRun> => runCli(args, { stdin });

const scratch = mkdtempSync(join(tmpdir(), 'autoheal-explain-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('autoheal explain', () => {
  it('prints the signals of an event file and exits 0', async () => {
    // Act
    const { code, stdout } = await run(['explain', fixture('lambda-sqs-event.mixed-batch.json')]);

    // Assess
    const report = JSON.parse(stdout) as { signals: Array<Record<string, unknown>>; rejected: Array<Record<string, unknown>> };
    expect(code).toBe(0);
    expect(Object.keys(report)).toEqual(['signals', 'rejected']);
    expect(report.signals.map((s) => [s.instanceId, s.state])).toEqual([
      ['i-0a1b2c3d4e5f60718', 'unhealthy'],
      ['i-0123456789abcdef0', 'healthy'],
    ]);
    expect(report.rejected).toEqual([
      { reason: 'Records[2].body: not JSON', recordId: '2c1b0a9f-8e7d-4c6b-a5f4-3d2c1b0a9f8e' },
      { reason: 'Records[3].body.Message.Trigger.Dimensions: no InstanceId', recordId: '3d2c1b0a-9f8e-4d7c-b6a5-4e3d2c1b0a9f' },
    ]);
  });

  it('reads stdin with -, and exits 1 when the event names no instance', async () => {
    // Act
    const { code, stdout } = await run(['explain', '-'], '{"AlarmName":"queue-depth","NewStateValue":"ALARM","Trigger":{"Dimensions":[]}}');

    // Assess
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({ signals: [], rejected: [{ reason: 'Trigger.Dimensions: no InstanceId' }] });
  });

  it('reads stdin when no file is given, and adds lifecycle only when there is some', async () => {
    // Act
    const { code, stdout } = await run(['explain'], JSON.stringify({
      'detail-type': 'EC2 Instance Launch Successful',
      source: 'aws.autoscaling',
      id: 'e-1',
      time: '2024-03-14T09:18:44Z',
      detail: { EC2InstanceId: 'i-0d1e2f3a4b5c6d7e8', AutoScalingGroupName: 'web-asg' },
    }));

    // Assess
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      signals: [],
      lifecycle: [{ instanceId: 'i-0d1e2f3a4b5c6d7e8', groupName: 'web-asg', change: 'launched', observedAt: '2024-03-14T09:18:44.000Z', eventId: 'e-1' }],
      rejected: [],
    });
  });

  it('exits 2 with a message on stderr when the file is missing or too large', async () => {
    // Prepare
    const large = join(scratch, 'large.json');
    writeFileSync(large, Buffer.alloc(maxInputBytes + 1, 0x20));

    // Act
    const missing = await run(['explain', join(scratch, 'missing.json')]);
    const tooLarge = await run(['explain', large]);

    // Assess
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/cannot read .*missing\.json/);
    expect(tooLarge.code).toBe(2);
    expect(tooLarge.stderr).toMatch(/larger than/);
  });

  it('renders reports in-process the same way (exit code follows the signals)', () => {
    // Act
    const none = explainText('not json');
    const one = explainText('{"AlarmName":"a-for-i-0abc1234","NewStateValue":"OK","StateChangeTime":"2024-01-01T00:00:00.000+0000"}');

    // Assess
    expect(none).toEqual({ output: `${JSON.stringify({ signals: [], rejected: [{ reason: 'input: not JSON' }] }, null, 2)}\n`, exitCode: 1 });
    expect(one.exitCode).toBe(0);
  });
});
