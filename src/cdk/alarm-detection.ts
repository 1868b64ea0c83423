/**
 * Detection `alarms`: the EventBridge rules that bring the alarms' state changes and the groups'
 * launches and terminations to the evidence queue the healer takes in batches (./intake.ts), the
 * Metrics Insights group alarms, the schedule of held work, and the alarm sync (./alarm-sync.ts).
 *
 * Why EventBridge and not the alarms' Lambda action: one rule covers every alarm of the prefix,
 * including those the alarm manager creates later, without a resource policy per alarm; the rule
 * target retries and dead-letters failed deliveries; and the alarms' actions stay free for the
 * alert topic (the operator's e-mail).
 *
 * Held work (the alarms still in ALARM, decided again so an instance skipped for the budget, a
 * grace period, the rate limit or a freeze heals once the rails allow) runs on a schedule of its
 * own that invokes the healer directly, not through the evidence queue: it is one event per run,
 * not evidence to batch, and behind a backlog it would wait exactly when it matters most.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct, IDependable } from 'constructs';
import { groupAlarmInput } from '../alarms/manager.js';
import { alarmSync, type AlarmSyncFunction } from './alarm-sync.js';
import { healerTarget, type HealerRef } from './healer.js';
import { evidenceTarget, intakeQueue, type IntakeQueue } from './intake.js';
import type { Resolved } from './resolve.js';

export interface AlarmDetectionInput {
  readonly config: Resolved;
  readonly healer: HealerRef;
  /** The topic the alarms notify. */
  readonly alertTopic: sns.ITopic;
  /** The alarm clean-up: every rule and group alarm is deleted before it runs. */
  readonly cleanup: IDependable;
}

/** What detection `alarms` built that the stack watches: the evidence queue (when a rule feeds it) and the sync. */
export interface AlarmDetection {
  readonly evidence?: IntakeQueue;
  readonly sync: AlarmSyncFunction;
}

export function alarmDetection(scope: Construct, input: AlarmDetectionInput): AlarmDetection {
  const { config, healer, cleanup } = input;
  const perInstance = config.alarm.mode === 'per-instance';
  const rules: events.Rule[] = [];
  // With a legacy queue, alarm notifications reach the healer through the queue; delivering them
  // a second way would only make duplicates.
  if (config.legacy === undefined) {
    // A Metrics Insights alarm reports each instance as a contributor, in its own event type.
    rules.push(
      new events.Rule(scope, 'AlarmStateRule', {
        description: `autoheal: ${config.alarm.prefix}* alarms ${perInstance ? '' : '(their contributors) '}entering ALARM`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: [perInstance ? 'CloudWatch Alarm State Change' : 'CloudWatch Alarm Contributor State Change'],
          detail: { alarmName: [{ prefix: config.alarm.prefix }], state: { value: ['ALARM'] } },
        },
      }),
    );
  }
  if (perInstance) {
    // Tagged groups cannot be matched by name here: the healer checks opt-in before creating an alarm.
    rules.push(
      new events.Rule(scope, 'LifecycleRule', {
        description: 'autoheal: instances launched and terminated, to keep per-instance alarms in sync',
        eventPattern: {
          source: ['aws.autoscaling'],
          detailType: ['EC2 Instance Launch Successful', 'EC2 Instance Terminate Successful'],
        },
      }),
    );
  }
  const evidence = rules.length > 0 ? intakeQueue(scope, 'Evidence', { healer, intake: config.intake, healerTimeout: config.healer.timeout }) : undefined;
  for (const rule of rules) {
    if (evidence) rule.addTarget(evidenceTarget(evidence.queue, healer.failureQueue));
    rule.node.addDependency(cleanup);
  }
  const held = new events.Rule(scope, 'HeldWorkRule', {
    description: `autoheal: decide again the ${config.alarm.prefix}* alarms still in ALARM (held work)`,
    schedule: events.Schedule.rate(Duration.minutes(config.syncIntervalMinutes)),
  });
  held.addTarget(healerTarget(healer));
  held.node.addDependency(cleanup);
  if (config.alarm.mode === 'metrics-insights') groupAlarms(scope, input);
  const sync = alarmSync(scope, { config, alertTopic: input.alertTopic, cleanup });
  return { ...(evidence ? { evidence } : {}), sync };
}

/**
 * Metrics Insights mode: one alarm per named group, each instance a contributor, with the same
 * settings the alarm manager writes (groupAlarmInput). Groups opted in by tag only are not known
 * at synth time: the healer's scheduled sync makes their alarms.
 */
function groupAlarms(scope: Construct, { config, alertTopic, cleanup }: AlarmDetectionInput): void {
  config.groupNames.forEach((name, n) => {
    const input = groupAlarmInput({ ...config.alarm, alarmActions: [alertTopic.topicArn] }, name);
    const alarm = new cloudwatch.CfnAlarm(scope, `GroupAlarm${n}`, {
      alarmName: input.AlarmName,
      alarmDescription: input.AlarmDescription,
      metrics: (input.Metrics ?? []).map((m) => ({ id: m.Id as string, expression: m.Expression, period: m.Period, returnData: m.ReturnData })),
      evaluationPeriods: input.EvaluationPeriods as number,
      threshold: input.Threshold,
      comparisonOperator: input.ComparisonOperator as string,
      treatMissingData: input.TreatMissingData,
      actionsEnabled: input.ActionsEnabled,
      alarmActions: input.AlarmActions,
    });
    // Deleted before the cleanup runs, so CloudFormation never finds its alarm already gone.
    alarm.node.addDependency(cleanup);
  });
}
