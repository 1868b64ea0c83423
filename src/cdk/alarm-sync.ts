/**
 * The alarms of the instances that already run, and repairs: a schedule rule on which the healer
 * syncs every managed group, and a custom resource that starts one such sync at deploy time (and
 * again when the groups or the alarm settings change), instead of leaving the running instances
 * unwatched until the rule's first run, up to one interval later.
 */
import { CustomResource, Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IDependable } from 'constructs';
import { syncTriggerHandlerSource } from './cleanup-handler.js';
import { healerTarget, type HealerRef } from './healer.js';
import { inlineFunction } from './inline-function.js';
import type { Resolved } from './resolve.js';

export interface AlarmSyncInput {
  readonly config: Resolved;
  readonly healer: HealerRef;
  /** The alarm clean-up: the schedule is deleted before it runs. */
  readonly cleanup: IDependable;
}

export function alarmSync(scope: Construct, { config, healer, cleanup }: AlarmSyncInput): void {
  const rule = new events.Rule(scope, 'AlarmSyncRule', {
    description: `autoheal: sync the ${config.alarm.prefix}* alarms of every managed group`,
    schedule: events.Schedule.rate(Duration.minutes(config.syncIntervalMinutes)),
  });
  rule.addTarget(healerTarget(healer));
  rule.node.addDependency(cleanup);

  const { fn, role } = inlineFunction(scope, 'AlarmSyncTrigger', {
    description: 'autoheal: starts one alarm sync of the healer at deploy time',
    source: syncTriggerHandlerSource,
    timeout: Duration.minutes(1),
    logRetention: logs.RetentionDays.ONE_WEEK,
    statements: [new iam.PolicyStatement({ sid: 'StartSync', actions: ['lambda:InvokeFunction'], resources: [healer.fn.functionArn] })],
  });
  const resource = new CustomResource(scope, 'AlarmSyncResource', {
    serviceToken: fn.functionArn,
    resourceType: 'Custom::AutohealAlarmSync',
    // A change of any of these starts a new sync.
    properties: {
      HealerArn: healer.fn.functionArn,
      Groups: config.groupNames.join(','),
      OptInTag: `${config.optInTag.key}=${config.optInTag.value}`,
      Alarm: JSON.stringify(config.alarm),
    },
  });
  resource.node.addDependency(role);
}
