/**
 * aws-app-check under the rails, as it runs on AWS: each envelope in a fresh `autoheal heal`
 * process (a Lambda cold start), sharing the ledger table, against moto. The envelope is the one a
 * read sends (src/app-check/verdicts.ts through the envelope's own writer); the healer counts it
 * as one more observer, never as two: with probeQuorum 2 it marks only when an observer Lambda agrees.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appCheckObserver, appCheckVerdicts } from '../../src/app-check/verdicts.js';
import { ensureLedgerTable } from '../../src/runtime/dynamodb-ledger.js';
import { verdictMessages } from '../../src/signals/verdicts.js';
import { isolatedAwsEnv, runCli } from '../helpers/cli.js';
import { sqsEvent } from '../helpers/events.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';

let moto: MotoFixture;
let autoScaling: AutoScalingClient;
let dynamo: DynamoDBClient;
const table = 'autoheal-ledger';
const checkId = 'asc-0123456789abcdef0';
/** The queue the verdicts reach the healer by. */
const verdictQueue = 'autoheal-verdicts';
const observer = 'observer-us-east-1a';
const voters = { AUTOHEAL_OBSERVERS: `${observer},${appCheckObserver}` };

beforeAll(async () => {
  moto = await startMoto();
  autoScaling = new AutoScalingClient(moto.clientConfig);
  dynamo = new DynamoDBClient(moto.clientConfig);
}, 60_000);
afterAll(async () => {
  autoScaling?.destroy();
  dynamo?.destroy();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  await ensureLedgerTable(dynamo, table, { sleep: async () => undefined });
});

/** What one read of the check sends when EC2 says `status` of the instance. */
function appCheckRead(instanceId: string, status: 'failed' | 'passed'): string {
  const now = new Date().toISOString();
  const verdicts = appCheckVerdicts([{ instanceId, checks: [{ checkId, aggregation: 'excluded', status, statusSince: now }] }], checkId, now);
  return sqsEvent([verdictMessages({ observer: appCheckObserver, sentAt: now, verdicts })[0] as string], verdictQueue);
}

/** One round of an observer Lambda that found the instance down. */
function observerRound(instanceId: string): string {
  const now = new Date().toISOString();
  return sqsEvent([verdictMessages({ observer, sentAt: now, verdicts: [{ instanceId, state: 'unhealthy', sequence: 1, observedAt: now, reason: 'http://10.0.0.1:80/health: 2 consecutive failures' }] })[0] as string], verdictQueue);
}

async function heal(event: string, env: Record<string, string> = voters): Promise<{ instanceId: string; action: string; reason: string }[]> {
  const run = await runCli(['heal', '-'], { stdin: event, env: isolatedAwsEnv({ ...moto.env, AUTOHEAL_LEDGER_TABLE: table, ...env }) });
  return (JSON.parse(run.stdout || '{"verdicts":[]}') as { verdicts: { instanceId: string; action: string; reason: string }[] }).verdicts;
}

async function unhealthy(groupName: string): Promise<string[]> {
  const group = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }));
  const ids = (group.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId as string);
  const out = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ids }));
  return (out.AutoScalingInstances ?? []).filter((i) => i.HealthStatus?.toUpperCase() === 'UNHEALTHY').map((i) => i.InstanceId as string);
}

// Every vote is a fresh node process (twenty in the budget test): slow on a busy machine, never a timing assertion.
describe('aws-app-check as one more observer (fresh processes, moto, ledger table)', { timeout: 180_000 }, () => {
  it('aws-app-check and one observer Lambda make a quorum of two', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 5 });
    const [target] = group.instanceIds as [string];

    // Act
    const first = await heal(appCheckRead(target, 'failed'));
    const second = await heal(observerRound(target));

    // Assess
    expect(first).toMatchObject([{ instanceId: target, action: 'skip', reason: 'awaitingQuorum' }]);
    expect(second).toMatchObject([{ instanceId: target, action: 'mark', reason: 'unhealthy' }]);
    expect(await unhealthy('workers')).toEqual([target]);
  });

  it('aws-app-check alone never marks at quorum 2, however often it reads the check failed', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 5 });
    const [target] = group.instanceIds as [string];

    // Act: three reads, each handled in its own process.
    const runs = [await heal(appCheckRead(target, 'failed')), await heal(appCheckRead(target, 'failed')), await heal(appCheckRead(target, 'failed'))];

    // Assess
    for (const verdicts of runs) expect(verdicts).toMatchObject([{ instanceId: target, action: 'skip', reason: 'awaitingQuorum' }]);
    expect(await unhealthy('workers')).toEqual([]);
  });

  it('a passed check withdraws its vote: the observer alone then does not mark', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 5 });
    const [target] = group.instanceIds as [string];

    // Act
    await heal(appCheckRead(target, 'failed'));
    await heal(appCheckRead(target, 'passed'));
    const observerAlone = await heal(observerRound(target));

    // Assess
    expect(observerAlone).toMatchObject([{ instanceId: target, action: 'skip', reason: 'awaitingQuorum' }]);
    expect(await unhealthy('workers')).toEqual([]);
  });

  it('without aws-app-check among AUTOHEAL_OBSERVERS its verdicts are refused, not counted', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'workers', size: 5 });
    const [target] = group.instanceIds as [string];

    // Act
    const refused = await heal(appCheckRead(target, 'failed'), { AUTOHEAL_OBSERVERS: observer });
    const observerAlone = await heal(observerRound(target), { AUTOHEAL_OBSERVERS: observer });

    // Assess
    expect(refused).toMatchObject([{ instanceId: target, action: 'skip', reason: 'unknownObserver' }]);
    expect(observerAlone).toMatchObject([{ action: 'skip', reason: 'awaitingQuorum' }]);
    expect(await unhealthy('workers')).toEqual([]);
  });

  it('the budget holds: aws-app-check and an observer agreeing on every instance of a group of 10 mark at most the budget', async () => {
    // Prepare: the default budget is 40 % of the group (4 of 10); nothing is replaced in between.
    const group = await createMotoGroup(moto, { name: 'workers', size: 10 });

    // Act
    const reasons: string[] = [];
    for (const instanceId of group.instanceIds) {
      await heal(appCheckRead(instanceId, 'failed'));
      for (const v of await heal(observerRound(instanceId))) reasons.push(v.reason);
    }

    // Assess
    const marked = await unhealthy('workers');
    expect(marked.length).toBeGreaterThan(0);
    expect(marked.length).toBeLessThanOrEqual(4);
    expect(reasons.filter((r) => r !== 'unhealthy').length).toBe(10 - marked.length);
  });
});
