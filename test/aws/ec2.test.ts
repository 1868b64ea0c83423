/**
 * EC2 DescribeInstances (src/aws/ec2.ts) when EC2 does not know an id yet (eventual consistency):
 * it fails the whole call with InvalidInstanceID.NotFound naming the ids; the wing asks again
 * without them, so the others are answered and the unknown ones are simply absent.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { autoScalingClient } from '../../src/aws/autoscaling.js';
import { describeInstances } from '../../src/aws/ec2.js';
import { describeInstancesXml, ec2ErrorXml, instanceIdsOf, startQueryStandIn, type QueryStandIn } from '../helpers/query-stand-in.js';

const client = autoScalingClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const known = ['i-0000000000000000a', 'i-0000000000000000b', 'i-1234abcd'];
let message: (unknown: string[]) => string = (unknown) =>
  unknown.length === 1 ? `The instance ID '${unknown[0]}' does not exist` : `The instance IDs '${unknown.join(', ')}' do not exist`;
let ec2: QueryStandIn;
beforeAll(async () => {
  // EC2 as it answers: a call naming any id it does not know fails whole, naming those ids.
  ec2 = await startQueryStandIn((request) => {
    const asked = instanceIdsOf(request);
    const unknown = asked.filter((i) => !known.includes(i));
    if (unknown.length > 0) return { status: 400, body: ec2ErrorXml('InvalidInstanceID.NotFound', message(unknown)) };
    return { body: describeInstancesXml(asked.map((instanceId) => ({ instanceId, privateIp: '10.0.0.1' }))) };
  });
});
afterAll(() => ec2.close());
afterEach(() => {
  ec2.requests.length = 0;
  vi.unstubAllEnvs();
});

describe('EC2 DescribeInstances with ids EC2 does not know yet', () => {
  it('answers for the known ids and leaves out the unknown ones, asking once more without them', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    const fresh = ['i-0000000000000000f', 'i-0000000000000000e'];

    // Act
    const facts = await describeInstances(client, [known[0] as string, fresh[0] as string, known[1] as string, fresh[1] as string]);

    // Assess
    expect([...facts.keys()]).toEqual([known[0], known[1]]);
    expect(ec2.requests.map(instanceIdsOf)).toEqual([[known[0], fresh[0], known[1], fresh[1]], [known[0], known[1]]]);
  });

  it('reads whole ids only: i-1234abcd is not named by an unknown i-1234abcd56789012a', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);

    // Act
    const facts = await describeInstances(client, ['i-1234abcd', 'i-1234abcd56789012a']);

    // Assess
    expect([...facts.keys()]).toEqual(['i-1234abcd']);
  });

  it('asks for each id alone when the message names none of them, and answers nothing when EC2 knows none', async () => {
    // Prepare
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    message = () => 'One or more instance IDs do not exist';

    // Act
    const some = await describeInstances(client, [known[0] as string, 'i-0000000000000000f']);
    const none = await describeInstances(client, ['i-0000000000000000f']);

    // Assess
    expect([...some.keys()]).toEqual([known[0]]);
    expect([...none.keys()]).toEqual([]);
    expect(ec2.requests.map(instanceIdsOf)).toEqual([[known[0], 'i-0000000000000000f'], [known[0]], ['i-0000000000000000f'], ['i-0000000000000000f']]);
  });
});
