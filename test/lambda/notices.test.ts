/**
 * Notices never slow a decision, and "one per group and reason per 30 min" holds whatever SNS
 * does. The Lambda handler (src/lambda/handler.ts) with real SDK clients: Auto Scaling and EC2
 * on moto, SNS a stand-in that answers slowly or never (what moto and fauxqs cannot be told to do),
 * reached by autoheal's own signed Publish through AWS_ENDPOINT_URL_SNS.
 */
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { createHandler, type HealSummary } from '../../src/lambda/handler.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { capturedLogger } from '../helpers/log-lines.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { startStandInSns, type StandInSns } from '../helpers/stand-in-sns.js';

let moto: MotoFixture;
let autoScaling: AutoScalingClient;
let sns: StandInSns | undefined;
const saved = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, moto.env);
  autoScaling = new AutoScalingClient(moto.clientConfig);
});
afterAll(async () => {
  autoScaling?.destroy();
  process.env = saved;
  await moto?.stop();
});
beforeEach(async () => moto.reset());
afterEach(async () => {
  await sns?.close();
  sns = undefined;
  delete process.env.AWS_ENDPOINT_URL_SNS;
});

/** The Lambda with notices to the stand-in SNS. */
async function handlerWithSns(answer: { answerAfterMs?: number; never?: boolean }) {
  sns = await startStandInSns(answer);
  process.env.AWS_ENDPOINT_URL_SNS = sns.url;
  const { logger, lines } = capturedLogger();
  const handler = createHandler({
    config: resolveSettings({}, { AUTOHEAL_NOTICE_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:alerts' }),
    autoScaling,
    alarmOptions: {},
    logger,
  });
  return { handler, lines, sns };
}

/** An alarm about `instanceId` as SNS delivers it to the function. */
const snsAlarm = (instanceId: string, n: number) => ({ Type: 'Notification', MessageId: `m-${instanceId}-${n}`, Timestamp: new Date().toISOString(), Message: statusCheckAlarmMessage(instanceId) });

async function unhealthy(ids: readonly string[]): Promise<string[]> {
  const out = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [...ids] }));
  return (out.AutoScalingInstances ?? []).filter((i) => i.HealthStatus?.toUpperCase() === 'UNHEALTHY').map((i) => i.InstanceId as string);
}

/** How many notices SNS received per group and reason. */
function perKey(s: StandInSns): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of s.published) {
    const key = `${p.attributes.group}|${p.attributes.reason}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('notices and a slow or silent SNS', () => {
  it('SNS answering after 1.2 s: 60 alarm events, one invocation each, send one notice per group and reason', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    const { handler, sns: s } = await handlerWithSns({ answerAfterMs: 1_200 });

    // Act: six rounds of alarms for eight of the ten, as replays and repeats bring them.
    const failing = group.instanceIds.slice(0, 8);
    for (let round = 0; round < 6; round++) for (const [k, id] of failing.entries()) await handler(snsAlarm(id, round * 10 + k));
    await handler(snsAlarm(failing[0] as string, 99));
    for (let k = 0; k < 2; k++) await handler(snsAlarm(group.instanceIds[8 + k] as string, 100 + k));

    // Assess: marks and holds happened; each key went to SNS once.
    expect(await unhealthy(group.instanceIds)).toHaveLength(4);
    const keys = perKey(s);
    expect(Object.values(keys).every((n) => n === 1)).toBe(true);
    expect(Object.keys(keys).sort()).toEqual(['workers|budgetSpent', 'workers|frozen', 'workers|unhealthy']);
  });

  it('SNS never answering: each invocation returns with the instance marked while its notice is still unanswered, and no notice goes twice', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });
    const { handler, sns: s } = await handlerWithSns({ never: true });
    const [first, ...rest] = group.instanceIds.slice(0, 6);

    // Act
    const out = (await handler(snsAlarm(first as string, 0))) as HealSummary;

    // Assess: the decision was made and returned; SNS still holds the request.
    expect(out.verdicts).toEqual([{ instanceId: first, group: 'workers', action: 'mark', reason: 'unhealthy' }]);
    expect(await unhealthy([first as string])).toEqual([first]);
    expect(s.unanswered).toBe(1);

    // Act: more decisions while SNS stays silent.
    for (const [k, id] of rest.entries()) await handler(snsAlarm(id, k + 1));

    // Assess: the budget's four are marked, the rest held; one notice per key was attempted, none repeated.
    expect(await unhealthy(group.instanceIds)).toHaveLength(4);
    const keys = perKey(s);
    expect(Object.values(keys).every((n) => n === 1)).toBe(true);
    expect(Object.keys(keys)).toContain('workers|unhealthy');
  });
});
