/**
 * The bridge's soak run, shared by its test (test/bridge/soak.test.ts, 2,000 messages) and its
 * benchmark (bench/bridge-soak.ts, 10,000): messages with a share of poison (malformed bodies) on
 * a fauxqs queue with a redrive policy; the real CLI (`autoheal bridge --local`) marks each
 * alarm's instance through a local Auto Scaling endpoint; the bridge process is SIGKILLed a given
 * number of times while it works, and restarted each time.
 *
 * What counts: a good message is handled when its instance received SetInstanceHealth (the mark
 * happens before the delete, so this holds even for a message whose delete a kill cut short).
 * At the end the queue is empty; a good message is lost if its instance was never marked, and
 * dead-lettered if it is in the dead-letter queue; a poison message must be acknowledged (deleted
 * with its reason) or dead-lettered.
 */
import { startFakeAutoScaling } from '../fleet/aws/fake-auto-scaling-server.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { eventually, startFauxqs } from '../helpers/fauxqs.js';
import { runBridgeCli, type BridgeRun } from './bridge-cli.js';

export interface SoakOptions {
  messages: number;
  /** Every 1/poisonShare-th message is malformed; default 0.1. */
  poisonShare?: number;
  /** SIGKILLs of the bridge, spread over the run; default 2. */
  kills?: number;
  /** --concurrency of the bridge; default 32. */
  concurrency?: number;
  /** How long each phase (up to a kill, the drain after the last restart) may take; default 120 s, or 60 ms per message if more. */
  phaseTimeoutMs?: number;
}

export interface SoakResult {
  good: number;
  poison: number;
  kills: number;
  /** Good messages whose instance was never marked. */
  lostGood: number;
  /** Good messages found in the dead-letter queue. */
  deadLetteredGood: number;
  poisonDeadLettered: number;
  /** Poison deleted by the bridge as bad input (poison − dead-lettered − left on the queue). */
  poisonAcknowledged: number;
  /** SetInstanceHealth calls in all (more than `good` when a kill made a message come back). */
  marks: number;
  /** Messages still on the main queue at the end (visible + in flight + delayed). */
  leftOnQueue: number;
  /** Exit code of the last bridge, stopped with SIGTERM once the queue was empty. */
  lastExitCode: number | null;
  durationMs: number;
}

const poisonBodies = ['not json', '{"Type":"Notification","Message":"{oops"}', '[]', '{"hello":"world"}', '{"AlarmName":'];

/** Instance ids of the EC2 shape, one per good message. */
function instanceId(n: number): string {
  return `i-${n.toString(16).padStart(17, '0')}`;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const poisonEvery = Math.round(1 / (options.poisonShare ?? 0.1));
  const kills = options.kills ?? 2;
  const phaseTimeoutMs = options.phaseTimeoutMs ?? Math.max(120_000, options.messages * 60);
  const startedAt = Date.now();
  const q = await startFauxqs({ deadLetter: { maxReceiveCount: 5 }, visibilityTimeoutSeconds: 5 });
  const bodies: string[] = [];
  const goodIds: string[] = [];
  for (let n = 0; n < options.messages; n++) {
    if (n % poisonEvery === poisonEvery - 1) {
      bodies.push(poisonBodies[n % poisonBodies.length] ?? 'x');
    } else {
      const id = instanceId(goodIds.length + 1);
      goodIds.push(id);
      bodies.push(statusCheckAlarmMessage(id, { region: 'US East (N. Virginia)' }));
    }
  }
  // Groups of ten, each opted in, with room in the budget for all of its instances.
  const groups = [];
  for (let g = 0; g * 10 < goodIds.length; g++) {
    const instances = goodIds.slice(g * 10, g * 10 + 10).map((id) => ({ instanceId: id }));
    groups.push({ name: `soak-${g}`, desiredCapacity: instances.length, tags: { 'autoheal:enabled': 'true' }, instances });
  }
  const autoScaling = await startFakeAutoScaling(groups);
  const marked = new Set<string>();
  let counted = 0;
  let markCount = 0;
  /** SetInstanceHealth calls so far; reads only the requests that arrived since the last look. */
  const marks = (): number => {
    for (; counted < autoScaling.requests.length; counted++) {
      const r = autoScaling.requests[counted];
      if (r?.action !== 'SetInstanceHealth') continue;
      markCount++;
      if (r.params.InstanceId) marked.add(r.params.InstanceId);
    }
    return markCount;
  };

  const env = {
    ...q.env,
    AWS_ENDPOINT_URL_AUTO_SCALING: autoScaling.url,
    AWS_ENDPOINT_URL_EC2: autoScaling.url,
    AWS_ENDPOINT_URL_CLOUDWATCH: autoScaling.url,
    AUTOHEAL_MAX_UNHEALTHY_SHARE: '1',
    // Every instance of each group fails here: no freeze (a share of 1 never trips).
    AUTOHEAL_SUSPICION_SHARE: '1',
    // One line per message would be 10,000 lines: warnings (rejections, failures, stalls) only.
    LOG_LEVEL: 'warn',
  };
  const args = ['--queue-url', q.queueUrl, '--local', '--wait-seconds', '1', '--concurrency', String(options.concurrency ?? 32)];
  let run: BridgeRun | undefined;
  let lastExitCode: number | null = null;
  try {
    await q.send(bodies);
    run = runBridgeCli(args, env);
    for (let k = 1; k <= kills; k++) {
      const at = Math.floor((goodIds.length * k) / (kills + 1));
      await eventually(() => (marks(), marked.size >= at), `${at} marks before kill ${k}`, phaseTimeoutMs);
      run.child.kill('SIGKILL');
      await run.exit;
      run = runBridgeCli(args, env);
    }
    const last = run;
    await eventually(
      async () => {
        marks();
        const depth = await q.depth();
        return depth.visible + depth.inFlight + depth.delayed === 0 && marked.size >= goodIds.length;
      },
      'the queue to drain',
      phaseTimeoutMs,
    );
    last.child.kill('SIGTERM');
    lastExitCode = await last.exit;
    run = undefined;

    const depth = await q.depth();
    const goodBodies = new Set(bodies.filter((b) => !poisonBodies.includes(b)));
    let deadLetteredGood = 0;
    let poisonDeadLettered = 0;
    for (;;) {
      const batch = await q.receive(q.dlqUrl, 10);
      if (batch.length === 0) break;
      for (const m of batch) {
        if (goodBodies.has(m.Body ?? '')) deadLetteredGood++;
        else poisonDeadLettered++;
      }
    }
    const poison = bodies.length - goodIds.length;
    const total = marks();
    return {
      good: goodIds.length,
      poison,
      kills,
      lostGood: goodIds.filter((id) => !marked.has(id)).length,
      deadLetteredGood,
      poisonDeadLettered,
      poisonAcknowledged: poison - poisonDeadLettered - (depth.visible + depth.inFlight + depth.delayed),
      marks: total,
      leftOnQueue: depth.visible + depth.inFlight + depth.delayed,
      lastExitCode,
      durationMs: Date.now() - startedAt,
    };
  } finally {
    if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await autoScaling.close();
    await q.stop();
  }
}
