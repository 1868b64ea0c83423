/** The inline code of autoheal's custom resources (CommonJS, as Lambda runs inline code). */

/**
 * The answer to CloudFormation, shared by the inline custom-resource handlers: logs one JSON line
 * and PUTs the result to the pre-signed ResponseURL.
 */
const respondSource = `
async function respond(event, context, status, reason, physicalId) {
  console.log(JSON.stringify({ requestType: event.RequestType, status, reason }));
  const body = JSON.stringify({
    Status: status,
    Reason: reason + ' (log stream ' + context.logStreamName + ')',
    PhysicalResourceId: event.PhysicalResourceId || physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  await fetch(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
}
`;

/**
 * The inline code of the alarm-cleanup custom resource (CommonJS, as Lambda runs inline code).
 * On stack Delete it deletes every metric alarm whose name starts with the prefix, in batches of
 * 100, then answers CloudFormation through the pre-signed ResponseURL. On Create and Update it
 * does nothing. It uses only the AWS SDK v3 that the nodejs22.x runtime ships. A failure answers
 * FAILED, so a stack deletion that could not remove the alarms says so instead of leaving them.
 */
export const cleanupHandlerSource = `
const { CloudWatchClient, DescribeAlarmsCommand, DeleteAlarmsCommand } = require('@aws-sdk/client-cloudwatch');
exports.handler = async (event, context) => {
  let status = 'SUCCESS';
  let reason = 'nothing to do';
  try {
    if (event.RequestType === 'Delete') {
      const prefix = event.ResourceProperties.AlarmPrefix;
      if (!prefix) throw new Error('AlarmPrefix missing');
      const cw = new CloudWatchClient({});
      const names = [];
      let token;
      do {
        const page = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, AlarmTypes: ['MetricAlarm'], MaxRecords: 100, NextToken: token }));
        for (const a of page.MetricAlarms || []) names.push(a.AlarmName);
        token = page.NextToken;
      } while (token);
      for (let i = 0; i < names.length; i += 100) {
        await cw.send(new DeleteAlarmsCommand({ AlarmNames: names.slice(i, i + 100) }));
      }
      reason = 'deleted ' + names.length + ' alarms with prefix ' + prefix;
    }
  } catch (error) {
    status = 'FAILED';
    reason = String(error && error.message ? error.message : error);
  }
  await respond(event, context, status, reason, 'autoheal-alarm-cleanup');
};
${respondSource}`;

/**
 * The inline code of the deploy-time alarm sync (CommonJS, SDK v3 of the nodejs22.x runtime). On
 * Create and Update it invokes the alarm sync function (FunctionArn) asynchronously with the same
 * "Scheduled Event" the schedule rule sends, so the instances already running get their alarms
 * minutes before the rule's first run; a slow or throttled sync never holds up or rolls back the
 * deployment, and a failed one is repeated by the schedule. A failed Invoke (a missing
 * permission) answers FAILED. On Delete it does nothing.
 */
export const syncTriggerHandlerSource = `
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
exports.handler = async (event, context) => {
  let status = 'SUCCESS';
  let reason = 'nothing to do';
  try {
    if (event.RequestType !== 'Delete') {
      const target = event.ResourceProperties.FunctionArn;
      if (!target) throw new Error('FunctionArn missing');
      const scheduled = {
        version: '0',
        id: event.RequestId,
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: event.StackId.split(':')[4],
        time: new Date().toISOString(),
        region: process.env.AWS_REGION,
        resources: [event.StackId],
        detail: {},
      };
      await new LambdaClient({}).send(
        new InvokeCommand({ FunctionName: target, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(scheduled)) }),
      );
      reason = 'alarm sync started in ' + target;
    }
  } catch (error) {
    status = 'FAILED';
    reason = String(error && error.message ? error.message : error);
  }
  await respond(event, context, status, reason, 'autoheal-alarm-sync');
};
${respondSource}`;

/**
 * The inline code of the legacy queue's intake (CommonJS): the queue's event source invokes it,
 * and it hands each record's body to the healer as an asynchronous invocation. The healer runs as
 * one serialized instance (reserved concurrency 1, so its budget holds across invocations); an SQS
 * event source pointed straight at it would be throttled under a burst, and each throttled receive
 * counts toward the queue's maxReceiveCount — good alarms would reach the dead-letter queue.
 * Lambda's asynchronous queue instead keeps a throttled event and retries it for up to its maximum
 * event age, then sends it to the healer's on-failure destination. A record is acknowledged only
 * once Lambda accepted its invocation; the rest are returned as batchItemFailures.
 */
export const intakeHandlerSource = `
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const client = new LambdaClient({});
exports.handler = async (event) => {
  const failed = [];
  await Promise.all((event.Records || []).map(async (record) => {
    try {
      JSON.parse(record.body);
      await client.send(new InvokeCommand({ FunctionName: process.env.HEALER_FUNCTION, InvocationType: 'Event', Payload: record.body }));
    } catch (error) {
      // A body that is not JSON can never be handled: acknowledge it, as the healer would.
      if (error instanceof SyntaxError) {
        console.log(JSON.stringify({ level: 'warn', msg: 'rejected: body is not JSON', messageId: record.messageId }));
        return;
      }
      console.log(JSON.stringify({ level: 'error', msg: 'handing to the healer failed', messageId: record.messageId, error: String(error) }));
      failed.push({ itemIdentifier: record.messageId });
    }
  }));
  return { batchItemFailures: failed };
};
`;
