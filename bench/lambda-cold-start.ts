/**
 * Lambda cold start: the size of dist/lambda.mjs, and the time a fresh `node` process takes to
 * import it and handle one event (an SNS-delivered StatusCheckFailed alarm), against a baseline
 * bundle that only imports @aws-sdk/client-auto-scaling and calls SetInstanceHealth (all the
 * original 2014 function did). Both talk to a local stand-in of the Auto Scaling API through
 * AWS_ENDPOINT_URL; runs alternate between the two and the medians are compared.
 *
 *   npx tsx bench/lambda-cold-start.ts [runs]     (default 15 runs each; needs `npm run build`)
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { startFakeAutoScaling } from '../test/fleet/aws/fake-auto-scaling-server.js';
import { statusCheckAlarm } from '../test/helpers/events.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'dist/lambda.mjs');
const runs = Number(process.argv[2] ?? 15);
const instanceId = 'i-0bb9a7e4e6e2b4c7d';

if (!existsSync(bundle)) {
  console.error('dist/lambda.mjs is missing: run `npm run build` first');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'autoheal-cold-'));
const baseline = join(dir, 'baseline.mjs');

// The baseline: what the original function did, bundled with the same esbuild settings.
await build({
  stdin: {
    resolveDir: root,
    sourcefile: 'baseline.js',
    contents: `
      import { AutoScalingClient, SetInstanceHealthCommand } from '@aws-sdk/client-auto-scaling';
      const client = new AutoScalingClient({});
      export async function handler(event) {
        const alarm = JSON.parse(event.Records[0].Sns.Message);
        const id = alarm.Trigger.Dimensions.find((d) => d.name === 'InstanceId').value;
        await client.send(new SetInstanceHealthCommand({ InstanceId: id, HealthStatus: 'Unhealthy' }));
        return { marked: id };
      }`,
  },
  outfile: baseline,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  legalComments: 'none',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

// One fresh process per run: time the import (init) and the first event, inside the child.
const runner = join(dir, 'runner.mjs');
writeFileSync(
  runner,
  `const t0 = performance.now();
   const { handler } = await import(process.argv[2]);
   const t1 = performance.now();
   const event = JSON.parse(process.argv[3]);
   const out = await handler(event, { getRemainingTimeInMillis: () => 30000, awsRequestId: 'bench' });
   const t2 = performance.now();
   process.stdout.write('\\n' + JSON.stringify({ initMs: t1 - t0, eventMs: t2 - t1, out }));`,
);

const alarm = statusCheckAlarm(instanceId, { region: 'US East (N. Virginia)' });
const event = {
  Records: [
    {
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:instance-alert:0b8c6f8e',
      Sns: {
        Type: 'Notification',
        MessageId: '5b2f0d3a-8b8e-5d3c-9f63-000000000001',
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:instance-alert',
        Subject: `ALARM: "${alarm.AlarmName}" in US East (N. Virginia)`,
        Message: JSON.stringify(alarm),
        Timestamp: alarm.StateChangeTime,
      },
    },
  ],
};

const fake = await startFakeAutoScaling({
  name: 'workers',
  desiredCapacity: 1,
  tags: { 'autoheal:enabled': 'true' },
  instances: [{ instanceId }],
}, { applyHealth: false });
const env = {
  PATH: process.env.PATH ?? '',
  AWS_ENDPOINT_URL: fake.url,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
  AWS_SECRET_ACCESS_KEY: 'benchmark',
  LOG_LEVEL: 'silent',
};

interface Sample {
  initMs: number;
  eventMs: number;
  wallMs: number;
}

async function once(file: string): Promise<Sample> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, [runner, file, JSON.stringify(event)], { env });
  const wallMs = performance.now() - started;
  // The last line: the handler writes its own lines (EMF metrics) to stdout before it.
  const parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { initMs: number; eventMs: number; out: unknown };
  if (JSON.stringify(parsed.out).includes('error')) throw new Error(`the handler failed: ${stdout}`);
  return { initMs: parsed.initMs, eventMs: parsed.eventMs, wallMs };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

try {
  // Warm the file system cache for both, then alternate so noise hits both alike.
  await once(bundle);
  await once(baseline);
  const samples = { autoheal: [] as Sample[], baseline: [] as Sample[] };
  for (let i = 0; i < runs; i++) {
    samples.autoheal.push(await once(bundle));
    samples.baseline.push(await once(baseline));
  }
  const marks = fake.requests.filter((r) => r.action === 'SetInstanceHealth').length;
  if (marks !== 2 * (runs + 1)) throw new Error(`expected ${2 * (runs + 1)} SetInstanceHealth calls, saw ${marks}`);

  const sizeA = statSync(bundle).size;
  const sizeB = statSync(baseline).size;
  const row = (name: string, a: number, b: number, unit: string, digits = 1): string =>
    `${name.padEnd(28)} ${a.toFixed(digits).padStart(10)} ${b.toFixed(digits).padStart(10)} ${unit.padEnd(3)} ${(a / b).toFixed(2).padStart(6)}x`;
  const m = (k: keyof Sample, s: Sample[]): number => median(s.map((x) => x[k]));
  const total = (s: Sample[]): number => median(s.map((x) => x.initMs + x.eventMs));
  console.log(`lambda cold start: median of ${runs} fresh node processes each (node ${process.version})`);
  console.log(`${''.padEnd(28)} ${'autoheal'.padStart(10)} ${'baseline'.padStart(10)}     ${'ratio'.padStart(7)}`);
  console.log(row('bundle size', sizeA / 1024, sizeB / 1024, 'KiB'));
  console.log(row('init (import)', m('initMs', samples.autoheal), m('initMs', samples.baseline), 'ms'));
  console.log(row('first event', m('eventMs', samples.autoheal), m('eventMs', samples.baseline), 'ms'));
  console.log(row('init + first event', total(samples.autoheal), total(samples.baseline), 'ms'));
  console.log(row('process wall clock', m('wallMs', samples.autoheal), m('wallMs', samples.baseline), 'ms'));
  const ratio = total(samples.autoheal) / total(samples.baseline);
  console.log(`goal: init + first event within 1.5x of the baseline: ${ratio <= 1.5 ? 'met' : 'missed'} (${ratio.toFixed(2)}x)`);
} finally {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
}
