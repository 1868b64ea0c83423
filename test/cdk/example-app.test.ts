/**
 * examples/cdk-app refuses context it does not know: a key of its own that it does not read (a
 * typo: `-c dryrun=true`) stops the synth and names the nearest key it knows, instead of being
 * ignored and deploying a live healer; the keys CDK and its CLI put in context are left alone.
 * Proved in-process (as the other tests synthesize the example) and once through the real CDK CLI.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/cdk-app/app.js';
import { contextKeys } from '../../examples/cdk-app/context.js';
import { stubBundleDir } from '../helpers/bundles.js';

const exampleDir = fileURLToPath(new URL('../../examples/cdk-app/', import.meta.url));
let bundleDir: string;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'autoheal-example-context-'));
  bundleDir = stubBundleDir(work);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The healer's environment of the example synthesized with `context`. */
function healerEnvironment(context: Record<string, unknown>): Record<string, unknown> {
  const { app, stack } = buildApp(new App({ outdir: mkdtempSync(join(work, 'out-')), context: { bundleDir, ...context } }));
  const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template as Record<string, unknown>);
  const [healer] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'lambda.handler' } })) as Array<{
    Properties: { Environment: { Variables: Record<string, unknown> } };
  }>;
  return healer?.Properties.Environment.Variables ?? {};
}

describe('examples/cdk-app context', () => {
  it.each([
    ['dryrun', 'dryRun'],
    ['dry-run', 'dryRun'],
    ['DRYRUN', 'dryRun'],
    ['groups', 'group'],
    ['emial', 'email'],
    ['notificationEmail', 'email'],
    ['mode', 'alarmMode'],
    ['subnet', 'subnets'],
    ['securityGroup', 'instanceSecurityGroup'],
    ['port', 'probePort'],
    ['legacy', 'legacyQueue'],
    ['stack', 'stackName'],
  ])('refuses -c %s=… and names -c %s', (key, nearest) => {
    // Act
    const act = (): unknown => buildApp(new App({ context: { group: 'g', bundleDir, [key]: 'true' } }));

    // Assess
    expect(act).toThrow(`-c ${key}: not a setting of this app; did you mean -c ${nearest}?`);
  });

  it('names every unknown key at once, and lists the keys it knows', () => {
    // Act
    const act = (): unknown => buildApp(new App({ context: { group: 'g', bundleDir, dryrun: 'true', emial: 'ops@example.com' } }));

    // Assess
    expect(act).toThrow(/-c dryrun: .*dryRun\?\n-c emial: .*email\?\n\(the keys it knows: group, email, /);
  });

  it('leaves the keys of CDK and its CLI alone: feature flags, aws:cdk settings, cached lookups, acknowledged notices', () => {
    // Act
    const environment = healerEnvironment({
      group: 'g',
      dryRun: 'true',
      '@aws-cdk/core:newStyleStackSynthesis': true,
      '@aws-cdk/core:failSynthOnValidationErrors': false,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
      'aws:cdk:version-reporting': true,
      'aws:cdk:bundling-stacks': ['**'],
      'aws-cdk:enableDiffNoFail': true,
      'availability-zones:account=123456789012:region=us-east-1': ['us-east-1a', 'us-east-1b'],
      'acknowledged-issue-numbers': [32775],
      'cli-telemetry': false,
    });

    // Assess
    expect(environment).toMatchObject({ AUTOHEAL_GROUPS: 'g', AUTOHEAL_DRY_RUN: 'true' });
  });

  it('knows every key its usage line names', () => {
    // Assess: the usage in app.ts's header is what a user copies; each -c KEY there is a known key.
    const usage = [...new Set([...readHeader().matchAll(/-c (\w+)=/g)].map((m) => m[1]))];
    expect(usage.length).toBeGreaterThan(10);
    expect(usage.filter((key) => !(contextKeys as readonly string[]).includes(key as string))).toEqual([]);
  });

  it('through the real CDK CLI: -c dryrun=true fails to synthesize, naming dryRun and nothing the CLI put in context', async () => {
    // Act
    const run = await cdkSynth(['-c', 'group=g', '-c', 'dryrun=true']);

    // Assess
    expect(run.code, run.stderr).not.toBe(0);
    expect(run.stderr).toContain('-c dryrun: not a setting of this app; did you mean -c dryRun?');
    expect(run.stderr.match(/not a setting of this app/g)).toHaveLength(1);
  }, 180_000);

  it('through the real CDK CLI: -c dryRun=true synthesizes a dry-run healer beside the context the CLI adds', async () => {
    // Act
    const out = mkdtempSync(join(work, 'cli-out-'));
    const run = await cdkSynth(['-c', 'group=g', '-c', 'dryRun=true'], out);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const template = Template.fromJSON(JSON.parse(readFileSync(join(out, 'AutoHeal.template.json'), 'utf8')) as Record<string, unknown>);
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ AUTOHEAL_DRY_RUN: 'true' }) } });
  }, 180_000);
});

/** The usage at the top of app.ts: from `npx cdk deploy` to the first empty comment line. */
function readHeader(): string {
  const header = readFileSync(join(exampleDir, 'app.ts'), 'utf8');
  const start = header.indexOf('npx cdk deploy');
  return header.slice(start, header.indexOf('\n *\n', start));
}

/** `cdk synth` of the example with its cdk.json, as a user runs it; no credentials, no network, no telemetry. */
function cdkSynth(args: string[], outdir = mkdtempSync(join(work, 'cli-out-'))): Promise<{ code: number | null; stderr: string }> {
  const cdk = fileURLToPath(new URL('../../node_modules/aws-cdk/bin/cdk', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cdk, 'synth', '--no-notices', '-q', '-o', outdir, '-c', `bundleDir=${bundleDir}`, ...args], {
      cwd: exampleDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: work,
        CDK_DISABLE_VERSION_CHECK: '1',
        CDK_DISABLE_CLI_TELEMETRY: '1',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: '/nonexistent',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}
