/**
 * moto (`moto_server`, an independent implementation of the AWS APIs) for integration tests:
 * started as a child process on a free loopback port, reset between uses, stopped afterwards.
 * It models Auto Scaling, EC2, CloudWatch, SNS, SQS, EventBridge, IAM, Lambda (not its code) and
 * CloudFormation well enough to check the real API shapes our adapters send and read.
 *
 * Known limits (see DESIGN.md): it never replaces an Unhealthy instance, ignores
 * ShouldRespectGracePeriod and creates alarms `OK` — tests stand in for those steps explicitly.
 *
 * moto_server must be installed (it is on these machines and CI's); a missing binary fails the
 * test rather than skipping it, so CI never passes by running less.
 *
 *   const moto = await startMoto();
 *   try { const asg = new AutoScalingClient(moto.clientConfig); … } finally { await moto.stop(); }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface MotoFixture {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  region: string;
  /** Settings for any AWS SDK v3 client: endpoint, region, test credentials. */
  clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  /** Environment for a child process (the real CLI, terraform) to reach moto by standard SDK settings. */
  env: Record<string, string>;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** A free TCP port on 127.0.0.1 (released before returning; moto binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(endpoint: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer at ${endpoint} within ${timeoutMs} ms:\n${output()}`);
}

/** Starts moto_server on a free loopback port; resolves once it answers. */
export async function startMoto(options: { region?: string } = {}): Promise<MotoFixture> {
  const region = options.region ?? 'us-east-1';
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(new Error(`cannot start moto_server (${error.message}); it is installed on the project's machines (pip package moto[server])`)),
    ),
  );
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await Promise.race([waitReady(endpoint, child, () => output, 30_000), spawnError]);

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    endpoint,
    region,
    clientConfig: { endpoint, region, credentials },
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    reset: async () => {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
    },
    stop,
  };
}

/** Runs `body` with a fresh moto, stopped afterwards. */
export async function withMoto<T>(body: (moto: MotoFixture) => Promise<T>, options?: { region?: string }): Promise<T> {
  const moto = await startMoto(options);
  try {
    return await body(moto);
  } finally {
    await moto.stop();
  }
}

/** A group created in moto: its name and instance ids. */
export interface MotoGroup {
  name: string;
  instanceIds: string[];
}

/**
 * Creates an Auto Scaling group of `size` InService instances in moto (a launch template in the
 * default VPC's first subnet), opted in by the default tag unless `tags` says otherwise.
 */
export async function createMotoGroup(
  moto: MotoFixture,
  options: { name: string; size: number; gracePeriodSeconds?: number; tags?: Record<string, string> },
): Promise<MotoGroup> {
  const { AutoScalingClient, CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand, UpdateAutoScalingGroupCommand } = await import(
    '@aws-sdk/client-auto-scaling'
  );
  const { EC2Client, CreateLaunchTemplateCommand, DescribeSubnetsCommand } = await import('@aws-sdk/client-ec2');
  const ec2 = new EC2Client(moto.clientConfig);
  const asg = new AutoScalingClient(moto.clientConfig);
  try {
    const subnets = await ec2.send(new DescribeSubnetsCommand({}));
    const template = `${options.name}-template`;
    await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: template, LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' } }));
    const tags = options.tags ?? { 'autoheal:enabled': 'true' };
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: options.name,
        MinSize: 0,
        MaxSize: options.size * 2,
        DesiredCapacity: options.size,
        HealthCheckGracePeriod: options.gracePeriodSeconds ?? 0,
        LaunchTemplate: { LaunchTemplateName: template },
        VPCZoneIdentifier: subnets.Subnets?.[0]?.SubnetId,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: false })),
      }),
    );
    // moto creates a grace period of 0 as its default 300 s; an update takes the 0.
    if (!options.gracePeriodSeconds) await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: options.name, HealthCheckGracePeriod: 0 }));
    const out = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [options.name] }));
    return { name: options.name, instanceIds: (out.AutoScalingGroups?.[0]?.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])) };
  } finally {
    ec2.destroy();
    asg.destroy();
  }
}
