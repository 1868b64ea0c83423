/**
 * AWS's application status check as the observer `aws-app-check`: EC2 DescribeApplicationStatus
 * at the HTTP boundary (moto has no such API, so a stand-in answers EC2's Query XML as the SDK's
 * model reads it), the group read from moto, and each read's verdicts on a real (fauxqs) SQS queue,
 * read back with the healer's own parser.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { autoScalingClient } from '../../src/aws/autoscaling.js';
import { describeApplicationStatus, instanceIdsPerApplicationStatus, type InstanceApplicationStatus } from '../../src/aws/ec2.js';
import { pollAppCheck } from '../../src/app-check/poll.js';
import { appCheckObserver, appCheckVerdicts } from '../../src/app-check/verdicts.js';
import { parseEvent } from '../../src/signals/index.js';
import { startFauxqs, type FauxqsFixture } from '../helpers/fauxqs.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { instanceIdsOf, startQueryStandIn, type QueryStandIn } from '../helpers/query-stand-in.js';

const checkId = 'asc-0123456789abcdef0';
const otherCheck = 'asc-0fedcba987654321f';
type Status = 'passed' | 'failed' | 'initializing' | 'insufficient-data' | 'not-applicable';

/** DescribeApplicationStatus's answer as EC2 writes it (element names from the SDK's EC2 model). */
function applicationStatusXml(instances: ReadonlyArray<{ id: string; checks: ReadonlyArray<{ checkId: string; status: Status; since?: string; aggregation?: string }> }>, nextToken?: string): string {
  const detail = (c: { checkId: string; status: Status; since?: string; aggregation?: string }): string =>
    `<item><applicationStatusCheckId>${c.checkId}</applicationStatusCheckId><aggregation>${c.aggregation ?? 'excluded'}</aggregation><status>${c.status}</status>` +
    `<statusTimeStamp>2026-12-03T16:00:10.000Z</statusTimeStamp>${c.since ? `<statusSince>${c.since}</statusSince>` : ''}` +
    (c.status === 'failed' ? '<reason><code>http-status-mismatch</code><statusCode>503</statusCode><protocol>http</protocol></reason>' : '') +
    '</item>';
  const items = instances
    .map((i) => `<item><instanceId>${i.id}</instanceId><availabilityZone>us-east-1a</availabilityZone><applicationStatus><status>not-applicable</status><detailSet>${i.checks.map(detail).join('')}</detailSet></applicationStatus></item>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><DescribeApplicationStatusResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><applicationStatusesResponseType><instanceSet>${items}</instanceSet></applicationStatusesResponseType>${nextToken ? `<nextToken>${nextToken}</nextToken>` : ''}</DescribeApplicationStatusResponse>`;
}

let ec2: QueryStandIn;
let statusOf: (id: string) => Status | undefined = () => undefined;
let pageSize = Infinity;
beforeAll(async () => {
  ec2 = await startQueryStandIn((request) => {
    const ids = instanceIdsOf(request);
    // Pages of `pageSize` instances: the token is where the next page starts.
    const from = Number(request.params.NextToken ?? '0');
    const page = ids.slice(from, from + pageSize);
    const next = from + pageSize < ids.length ? String(from + pageSize) : undefined;
    const instances = page.flatMap((id) => {
      const status = statusOf(id);
      return status === undefined ? [] : [{ id, checks: [{ checkId: otherCheck, status: 'failed' as const }, { checkId, status, since: '2026-12-03T15:59:00.000Z' }] }];
    });
    return { body: applicationStatusXml(instances, next) };
  });
});
afterAll(() => ec2.close());
afterEach(() => {
  ec2.requests.length = 0;
  pageSize = Infinity;
  vi.unstubAllEnvs();
});

const client = autoScalingClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const id = (n: number): string => `i-${n.toString(16).padStart(17, '0')}`;

describe('EC2 DescribeApplicationStatus (src/aws/ec2.ts)', () => {
  it('asks 100 ids a call, follows every page, and reads each check of each instance', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    statusOf = (i) => (i === id(7) ? 'failed' : 'passed');
    pageSize = 40;
    const ids = Array.from({ length: 250 }, (_, n) => id(n + 1));

    // Act
    const statuses = await describeApplicationStatus(client, [...ids, id(1)]);

    // Assess
    expect(ec2.requests.every((r) => r.action === 'DescribeApplicationStatus')).toBe(true);
    const asked = ec2.requests.filter((r) => r.params.NextToken === undefined).map((r) => instanceIdsOf(r).length);
    expect(asked.sort((a, b) => b - a)).toEqual([instanceIdsPerApplicationStatus, 100, 50]);
    expect(ec2.requests).toHaveLength(3 + 3 + 2); // pages of 40: 100 ids take 3 calls, 50 take 2
    expect(statuses.map((s) => s.instanceId).sort()).toEqual([...ids].sort());
    const seven = statuses.find((s) => s.instanceId === id(7));
    expect(seven?.checks).toEqual([
      { checkId: otherCheck, aggregation: 'excluded', status: 'failed', reason: { code: 'http-status-mismatch', statusCode: '503', protocol: 'http' } },
      { checkId, aggregation: 'excluded', status: 'failed', statusSince: '2026-12-03T15:59:00.000Z', reason: { code: 'http-status-mismatch', statusCode: '503', protocol: 'http' } },
    ]);
  });
});

describe('the verdicts of a read (src/app-check/verdicts.ts)', () => {
  const at = '2026-12-03T16:00:00.000Z';
  const status = (instanceId: string, checks: InstanceApplicationStatus['checks']): InstanceApplicationStatus => ({ instanceId, checks });

  it('votes failed unhealthy and passed healthy, only for the stack check; other states say nothing', () => {
    // Act
    const verdicts = appCheckVerdicts(
      [
        status(id(1), [{ checkId, status: 'failed', statusSince: '2026-12-03T15:59:00.000Z', reason: { code: 'timeout' } }]),
        status(id(2), [{ checkId, status: 'passed' }]),
        status(id(3), [{ checkId, status: 'initializing' }]),
        status(id(4), [{ checkId, status: 'insufficient-data' }]),
        status(id(5), [{ checkId: otherCheck, status: 'failed' }]),
        status(id(6), []),
        status(id(1), [{ checkId, status: 'passed' }]),
      ],
      checkId,
      at,
    );

    // Assess
    expect(verdicts).toEqual([
      { instanceId: id(1), state: 'unhealthy', sequence: Date.parse('2026-12-03T15:59:00.000Z') / 1000, observedAt: at, reason: `EC2 application status check ${checkId}: failed since 2026-12-03T15:59:00.000Z (timeout)` },
      { instanceId: id(2), state: 'healthy', sequence: Date.parse(at) / 1000, observedAt: at, reason: `EC2 application status check ${checkId}: passed` },
    ]);
  });
});

describe('a read sent to the verdict queue (src/app-check/poll.ts)', () => {
  let moto: MotoFixture;
  let queue: FauxqsFixture;
  beforeAll(async () => {
    [moto, queue] = await Promise.all([startMoto(), startFauxqs({ queueName: 'verdicts' })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([moto?.stop(), queue?.stop()]);
  });

  it('sends one envelope from aws-app-check: failed instances unhealthy, passed healthy, initializing none', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    const group = await createMotoGroup(moto, { name: 'web', size: 3 });
    const [down, up, starting] = group.instanceIds as [string, string, string];
    statusOf = (i) => (i === down ? 'failed' : i === up ? 'passed' : i === starting ? 'initializing' : undefined);
    const autoscaling = autoScalingClient({ ...moto.clientConfig });
    const now = new Date('2026-12-03T16:00:00.000Z');

    // Act
    const result = await pollAppCheck({ autoscaling, sqs: queue.sqs, queueUrl: queue.queueUrl, groups: ['web', 'absent'], checkId, now: () => now });

    // Assess
    expect(result).toEqual({ instances: 3, unhealthy: [down], healthy: 1, messages: 1 });
    expect(instanceIdsOf(ec2.requests[0] as never).sort()).toEqual([...group.instanceIds].sort());
    const [message] = await queue.receive(queue.queueUrl);
    const parsed = parseEvent(JSON.parse(message?.Body ?? 'null'));
    expect(parsed.rejected).toEqual([]);
    expect(parsed.signals.map((s) => [s.instanceId, s.state, s.observer, s.observedAt])).toEqual([
      [down, 'unhealthy', appCheckObserver, now.toISOString()],
      [up, 'healthy', appCheckObserver, now.toISOString()],
    ]);
  });

  it('sends nothing when no instance has a passed or failed check, and never asks EC2 about no instances', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    statusOf = () => 'initializing';
    const autoscaling = autoScalingClient({ ...moto.clientConfig });
    const before = await queue.depth(queue.queueUrl);

    // Act
    const starting = await pollAppCheck({ autoscaling, sqs: queue.sqs, queueUrl: queue.queueUrl, groups: ['web'], checkId, now: () => new Date() });
    const empty = await pollAppCheck({ autoscaling, sqs: queue.sqs, queueUrl: queue.queueUrl, groups: ['absent'], checkId, now: () => new Date() });

    // Assess
    expect(starting).toMatchObject({ instances: 3, unhealthy: [], healthy: 0, messages: 0 });
    expect(empty).toEqual({ instances: 0, unhealthy: [], healthy: 0, messages: 0 });
    expect(ec2.requests).toHaveLength(1);
    expect(await queue.depth(queue.queueUrl)).toEqual(before);
  });
});
