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
  console.log(JSON.stringify({ requestType: event.RequestType, status, reason }));
  const body = JSON.stringify({
    Status: status,
    Reason: reason + ' (log stream ' + context.logStreamName + ')',
    PhysicalResourceId: event.PhysicalResourceId || 'autoheal-alarm-cleanup',
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  await fetch(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
};
`;
