/**
 * A ready CDK app that deploys autoheal for one Auto Scaling group named on the command line:
 *
 *   npx cdk deploy -c group=my-workers [-c email=ops@example.com] [-c detection=alarms,probe,app-checks]
 *     [-c alarmMode=metrics-insights] [-c maxUnhealthyShare=0.25] [-c dryRun=true] [-c legacyQueue=lambda|bridge]
 *     [-c stackName=AutoHeal] [-c bundleDir=PATH]
 *     [-c subnets=SUBNET_ID:AZ,SUBNET_ID:AZ] [-c probePort=80] [-c vpc=VPC_ID] [-c instanceSecurityGroup=SG_ID]
 *     [-c quarantine=capture|retain] [-c retainAtMost=1] [-c replacement=launch-before-terminate]
 *
 * `group` may name several groups, comma-separated. With detection `probe`, `subnets` deploys one
 * observer per subnet (at least two Availability Zones). With detection `app-checks`, an EC2
 * application status check on `probePort` (default 80) counts as the observer aws-app-check. Any other key (`-c dryrun=true`) stops the
 * synth and names the nearest one it knows; CDK's own keys (`@aws-cdk/…`, `aws:cdk:…`) are left alone.
 *
 * It is environment-agnostic (no account or region is looked up), so `npx cdk synth -c group=x`
 * runs with no credentials and no network. In your own app, import the construct from the package:
 * `import { AutoHeal } from 'autoheal/cdk'` (here it comes from the source tree).
 */
import { App, Stack } from 'aws-cdk-lib';
import { AutoHeal, type AutoHealProps, type Detection, type ObserverSubnet } from '../../src/cdk/index.js';
import { contextKeys, unknownContextKeys, type ContextKey } from './context.js';

/** `subnet-0aaa:us-east-1a,subnet-0bbb:us-east-1b`, strictly: anything else is an error saying what to write. */
export function parseSubnets(text: string): ObserverSubnet[] {
  const usage = 'write -c subnets=SUBNET_ID:AZ,SUBNET_ID:AZ (e.g. subnet-0aaa:us-east-1a,subnet-0bbb:us-east-1b)';
  return text.split(',').map((item, i) => {
    const match = /^(subnet-[0-9a-f]+):([a-z]{2}(?:-[a-z]+)+-\d[a-z])$/.exec(item.trim());
    if (!match) throw new Error(`-c subnets: item ${i + 1} "${item}" is not SUBNET_ID:AZ; ${usage}`);
    return { subnetId: match[1] as string, availabilityZone: match[2] as string };
  });
}

function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new Error(`-c probePort: an integer from 1 to 65535, got "${text}"`);
  return n;
}

/** Builds the app from CDK context; exported so tests synthesize it in-process. */
export function buildApp(app: App = new App()): { app: App; stack: Stack } {
  const unknown = unknownContextKeys(app.node.getAllContext());
  if (unknown.length > 0) throw new Error(`${unknown.join('\n')}\n(the keys it knows: ${contextKeys.join(', ')})`);
  const context = (key: ContextKey): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  // Fail closed: a switch that is not exactly true or false stops the synth instead of deploying a live healer.
  const flag = (key: ContextKey): boolean | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    if (value === undefined || value === '') return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new Error(`-c ${key}=${String(value)}: expected true or false`);
  };
  const group = context('group');
  if (group === undefined) throw new Error('name the Auto Scaling group: npx cdk synth -c group=NAME');

  const legacy = context('legacyQueue');
  const mode = context('alarmMode');
  const share = context('maxUnhealthyShare');
  const subnets = context('subnets');
  const probePort = context('probePort');
  const detection = (context('detection') ?? 'alarms').split(',') as Detection[];
  const props: AutoHealProps = {
    groups: group.split(',').map((g) => g.trim()),
    detection,
    ...(context('email') ? { notificationEmail: context('email') } : {}),
    ...(flag('dryRun') !== undefined ? { dryRun: flag('dryRun') as boolean } : {}),
    // The construct rejects an unknown mode or a share out of range with a clear message.
    ...(mode ? { alarm: { mode: mode as 'per-instance' | 'metrics-insights' } } : {}),
    ...(share ? { maxUnhealthyShare: Number(share) } : {}),
    // The construct rejects a consumer other than lambda or bridge, naming it.
    ...(legacy ? { legacyQueue: { consumer: legacy as 'lambda' | 'bridge' } } : {}),
    ...(subnets
      ? {
          probe: {
            subnets: parseSubnets(subnets),
            ...(probePort ? { port: port(probePort) } : {}),
            ...(context('vpc') ? { vpcId: context('vpc') } : {}),
            ...(context('instanceSecurityGroup') ? { instanceSecurityGroupId: context('instanceSecurityGroup') } : {}),
          },
        }
      : // Without observers, the port is the application status check's (detection app-checks).
        probePort && detection.includes('app-checks')
        ? { probe: { port: port(probePort) } }
        : {}),
    // The construct rejects a mode other than off, capture or retain, naming it, and retainAtMost without retain or out of range.
    ...(context('quarantine') ? { quarantine: context('quarantine') as 'off' | 'capture' | 'retain' } : {}),
    ...(context('retainAtMost') ? { retainAtMost: Number(context('retainAtMost')) } : {}),
    // The construct rejects an order other than unchanged or launch-before-terminate, naming it.
    ...(context('replacement') ? { replacement: context('replacement') as 'unchanged' | 'launch-before-terminate' } : {}),
    // Where the Lambda bundle is; default: this package's dist/ (run `npm run build` first).
    ...(context('bundleDir') ? { bundleDir: context('bundleDir') } : {}),
  };
  const stack = new Stack(app, context('stackName') ?? 'AutoHeal', {
    description: `autoheal for the Auto Scaling group ${group}`,
  });
  new AutoHeal(stack, 'AutoHeal', props);
  return { app, stack };
}

// Run as the CDK app (cdk.json: `npx tsx app.ts`), not when a test imports buildApp.
if (process.env.CDK_OUTDIR !== undefined || process.argv[1]?.endsWith('app.ts')) {
  buildApp().app.synth();
}
