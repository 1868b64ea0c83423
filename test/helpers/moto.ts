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
