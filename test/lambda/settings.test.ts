/**
 * Settings that cannot mean what they say are refused from the environment and the flags, naming
 * the variable or flag and the reason: the built Lambda bundle refuses to start, the resolver
 * refuses windows too short to hold anything, `autoheal probe` healing in its own process refuses
 * a quorum its one observer cannot reach. (The construct and the module: test/cdk, test/terraform.)
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alarmOptionsFromEnv } from '../../src/alarms/env.js';
import { resolveSettings } from '../../src/config.js';
import { resolveProbeSettings } from '../../src/cli/commands/probe.js';
import { isolatedAwsEnv } from '../helpers/cli.js';

const bundle = fileURLToPath(new URL('../../dist/lambda.mjs', import.meta.url));

/** Imports the built bundle alone in a fresh Node process with `env`, as Lambda's init does. */
function initBundle(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  if (!existsSync(bundle)) throw new Error('dist/lambda.mjs not found: run "npm run build" first (npm test does)');
  const dir = mkdtempSync(join(tmpdir(), 'autoheal-init-'));
  copyFileSync(bundle, join(dir, 'lambda.mjs'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(join(dir, 'lambda.mjs'))});`], { env: isolatedAwsEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('the Lambda refuses to start on settings that cannot mean what they say', () => {
  it.each([
    ['0', /AUTOHEAL_ALARM_THRESHOLD: must be more than 0: StatusCheckFailed is 0 on a healthy instance, so >= 0 alarms on every instance/],
    ['5', /AUTOHEAL_ALARM_THRESHOLD: must be at most 1: StatusCheckFailed is never more than 1, so the alarm could never fire/],
  ])('AUTOHEAL_ALARM_THRESHOLD=%s', async (threshold, message) => {
    const run = await initBundle({ AUTOHEAL_ALARM_THRESHOLD: threshold });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(message);
  });

  it('starts with the default threshold, and with 0.5', async () => {
    expect(await initBundle({})).toMatchObject({ code: 0 });
    expect(() => alarmOptionsFromEnv({ AUTOHEAL_ALARM_THRESHOLD: '0.5' })).not.toThrow();
  });
});

describe("the rails' ledger table", () => {
  it('a name DynamoDB would refuse stops the cold start, naming the variable', async () => {
    const run = await initBundle({ AUTOHEAL_LEDGER_TABLE: 'my ledger!' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/AUTOHEAL_LEDGER_TABLE: expected a DynamoDB table name \(3 to 255 of A-Z a-z 0-9 _ \. -\), got "my ledger!"/);
  });

  it('starts with a table named (loading DynamoDB only on the first decision), and without one', async () => {
    expect(await initBundle({ AUTOHEAL_LEDGER_TABLE: 'autoheal-ledger' })).toMatchObject({ code: 0 });
  });

  it('comes from the flag over the environment; unset or empty means none', () => {
    expect(resolveSettings({}, { AUTOHEAL_LEDGER_TABLE: 'from-env' }).ledgerTable).toBe('from-env');
    expect(resolveSettings({ ledgerTable: 'from-flag' }, { AUTOHEAL_LEDGER_TABLE: 'from-env' }).ledgerTable).toBe('from-flag');
    expect(resolveSettings({}, { AUTOHEAL_LEDGER_TABLE: ' ' }).ledgerTable).toBeUndefined();
    expect(() => resolveSettings({ ledgerTable: 'x' }, {})).toThrow(/--ledger-table: expected a DynamoDB table name/);
  });
});

describe('windows too short to hold anything', () => {
  it('are refused from the environment and the flags, each named', () => {
    const act = () =>
      resolveSettings(
        { freezeMs: '10' },
        { AUTOHEAL_SUSPICION_WINDOW_MS: '1', AUTOHEAL_QUORUM_WINDOW_MS: '999', AUTOHEAL_MARK_RATE_WINDOW_MS: '0', AUTOHEAL_LOOP_WINDOW_MS: '5', AUTOHEAL_ESCALATE_AFTER_FREEZES: '1' },
      );
    expect(act).toThrow(/--freeze-ms: must be at least 1000 ms: a shorter window holds nothing, and the rail would never act/);
    expect(act).toThrow(/AUTOHEAL_SUSPICION_WINDOW_MS: must be at least 1000 ms/);
    expect(act).toThrow(/AUTOHEAL_QUORUM_WINDOW_MS: must be at least 1000 ms/);
    expect(act).toThrow(/AUTOHEAL_MARK_RATE_WINDOW_MS: must be at least 1000 ms/);
    expect(act).toThrow(/AUTOHEAL_LOOP_WINDOW_MS: must be at least 1000 ms/);
    expect(act).toThrow(/AUTOHEAL_ESCALATE_AFTER_FREEZES: Too small/);
    expect(resolveSettings({}, { AUTOHEAL_ESCALATE_AFTER_FREEZES: '4' }).policy.escalateAfterFreezes).toBe(4);
  });
});

describe('a probe quorum its observers can never reach', () => {
  it('is refused by `autoheal probe` healing in its own process, where it is the only observer', () => {
    const act = () => resolveProbeSettings({ group: ['web'], port: '8080' }, { AUTOHEAL_PROBE_QUORUM: '2' });
    expect(act).toThrow(/AUTOHEAL_PROBE_QUORUM: 2 observers must agree, but 1 is deployed: probe verdicts could never mark; lower the quorum or add observers \(healing in this process, this prober is the only observer\)/);
    expect(() => resolveProbeSettings({ group: ['web'], port: '8080' }, {})).not.toThrow();
  });
});
