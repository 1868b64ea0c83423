/**
 * The alarms of the prefix belong to the stack: a custom resource deletes every one of them when
 * the stack is deleted (cleanupHandlerSource), and the healer and the rules that create alarms
 * depend on it, so they are gone before it runs and no alarm is created behind its back.
 */
import { ArnFormat, CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { cleanupHandlerSource } from './cleanup-handler.js';
import { inlineFunction } from './inline-function.js';

/** The ARN pattern of every alarm of the prefix: what the healer may write and the clean-up may delete. */
export function alarmArnsOf(scope: Construct, prefix: string): string {
  return Stack.of(scope).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${prefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

/** The custom resource that deletes every alarm of the prefix when the stack is deleted. */
export function alarmCleanup(scope: Construct, { prefix, alarmArns }: { prefix: string; alarmArns: string }): CustomResource {
  const { fn, role } = inlineFunction(scope, 'AlarmCleanup', {
    description: `autoheal: deletes the ${prefix}* alarms when the stack is deleted`,
    source: cleanupHandlerSource,
    timeout: Duration.minutes(5),
    logRetention: logs.RetentionDays.ONE_WEEK,
    statements: [
      new iam.PolicyStatement({ sid: 'ListAlarms', actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
      new iam.PolicyStatement({ sid: 'DeleteOwnAlarms', actions: ['cloudwatch:DeleteAlarms'], resources: [alarmArns] }),
    ],
  });
  // The role's policy must outlive the custom resource: it is needed at Delete time.
  const resource = new CustomResource(scope, 'AlarmCleanupResource', {
    serviceToken: fn.functionArn,
    resourceType: 'Custom::AutohealAlarmCleanup',
    properties: { AlarmPrefix: prefix },
  });
  resource.node.addDependency(role);
  return resource;
}
