/**
 * The hand-signed Query call (src/aws/query.ts) handles answers as the SDK handles its own: the
 * status before the body, the signing client's retry strategy and bounds, the SDK's endpoint
 * settings. Against a real HTTP stand-in on loopback, through real SDK clients' parts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { autoScalingClient } from '../../src/aws/autoscaling.js';
import { describeInstances } from '../../src/aws/ec2.js';
import { publish, snsClient } from '../../src/aws/sns.js';
import { isRetryable, RemoteError } from '../../src/errors.js';
import { describeInstancesXml, ec2ErrorXml, publishXml, startQueryStandIn, type QueryAnswer, type QueryStandIn } from '../helpers/query-stand-in.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const id = 'i-0a1b2c3d4e5f60718';
let answers: QueryAnswer[] = [];
let standIn: QueryStandIn;
beforeAll(async () => {
  // Each request takes the next answer; the last one repeats.
  standIn = await startQueryStandIn(() => (answers.length > 1 ? (answers.shift() as QueryAnswer) : (answers[0] as QueryAnswer)));
});
afterAll(() => standIn.close());
afterEach(() => {
  standIn.requests.length = 0;
  vi.unstubAllEnvs();
});

function ec2Client() {
  vi.stubEnv('AWS_ENDPOINT_URL_EC2', standIn.url);
  return autoScalingClient({ region: 'us-east-1', credentials });
}

describe('the signed Query call', () => {
  it('reads the status before the body: a 503 with an empty body is a retryable ServiceUnavailable, tried as often as the client tries', async () => {
    // Prepare
    answers = [{ status: 503, body: '' }];
    const client = ec2Client();

    // Act
    const failed = await describeInstances(client, [id]).catch((error: unknown) => error);

    // Assess
    expect(failed).toBeInstanceOf(RemoteError);
    expect(isRetryable(failed)).toBe(true);
    expect(String((failed as Error).message)).toMatch(/^ec2:DescribeInstances failed: ServiceUnavailable: ec2 answered HTTP 503 without an error document/);
    expect(standIn.requests).toHaveLength(await client.config.maxAttempts());
    // The SDK's retry middleware stamps each attempt, as on the client's own calls.
    expect(standIn.requests.map((r) => r.headers['amz-sdk-request'])).toEqual([1, 2, 3, 4, 5].map((n) => `attempt=${n}; max=5`));
  });

  it('succeeds on a later attempt after a 503, a 502 page that is not XML and a 429', async () => {
    // Prepare
    answers = [
      { status: 503, body: '' },
      { status: 502, body: '<html><body>Bad Gateway</body></html>', contentType: 'text/html' },
      { status: 429, body: 'slow down', contentType: 'text/plain' },
      { body: describeInstancesXml([{ instanceId: id, privateIp: '10.0.0.7', launchTime: '2026-05-14T19:00:02.000Z', tags: { team: 'a' } }]) },
    ];

    // Act
    const facts = await describeInstances(ec2Client(), [id]);

    // Assess
    expect(facts.get(id)).toEqual({ privateIp: '10.0.0.7', launchedAt: new Date('2026-05-14T19:00:02.000Z'), tags: { team: 'a' } });
    expect(standIn.requests).toHaveLength(4);
  });

  it('does not retry what the service refuses, and names its code', async () => {
    // Prepare
    answers = [{ status: 400, body: ec2ErrorXml('InvalidParameterValue', 'Value (x) for parameter instanceId is invalid.') }];

    // Act
    const failed = await describeInstances(ec2Client(), [id]).catch((error: unknown) => error);

    // Assess
    expect(String((failed as Error).message)).toMatch(/InvalidParameterValue: Value \(x\)/);
    expect(isRetryable(failed)).toBe(false);
    expect(standIn.requests).toHaveLength(1);
  });

  it("honours a client's own endpoint for its own service, and AWS_ENDPOINT_URL_<SERVICE> otherwise; a publish is signed for the topic's region", async () => {
    // Prepare: an SNS client given the stand-in in code; AWS_ENDPOINT_URL_SNS points nowhere.
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', 'http://127.0.0.1:9');
    answers = [{ body: publishXml('m-1') }];
    const own = snsClient({ region: 'us-east-1', endpoint: standIn.url, credentials });
    const other = autoScalingClient({ region: 'us-east-1', credentials });

    // Act
    const viaOwn = await publish(own, { topicArn: 'arn:aws:sns:eu-west-2:123456789012:alerts', body: 'hello' });
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', standIn.url);
    const viaOther = await publish(other, { topicArn: 'arn:aws:sns:eu-west-2:123456789012:alerts', subject: 's', body: 'hello', attributes: { kind: 'notice' } });

    // Assess
    expect([viaOwn, viaOther]).toEqual(['m-1', 'm-1']);
    expect(standIn.requests.map((r) => r.params)).toEqual([
      { Action: 'Publish', Version: '2010-03-31', TopicArn: 'arn:aws:sns:eu-west-2:123456789012:alerts', Message: 'hello' },
      {
        Action: 'Publish',
        Version: '2010-03-31',
        TopicArn: 'arn:aws:sns:eu-west-2:123456789012:alerts',
        Message: 'hello',
        Subject: 's',
        'MessageAttributes.entry.1.Name': 'kind',
        'MessageAttributes.entry.1.Value.DataType': 'String',
        'MessageAttributes.entry.1.Value.StringValue': 'notice',
      },
    ]);
    for (const r of standIn.requests) expect(r.headers.authorization).toMatch(/Credential=test\/\d{8}\/eu-west-2\/sns\/aws4_request/);
  });
});
