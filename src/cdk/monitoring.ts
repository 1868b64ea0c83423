/**
 * The stack watches itself, and tells a person what autoheal did. Built by {@link AutoHeal} with one
 * call; what it adds, and why:
 *
 * - notices: the healer publishes them to the alert topic (env AUTOHEAL_NOTICE_TOPIC_ARN, IAM
 *   sns:Publish on that topic only); the e-mail subscription to the alert topic has the filter
 *   policy `{"autoheal_notice": [{"exists": true}]}`, so it receives notices only — never the raw
 *   alarm notifications and probe verdicts that share the topic (they carry no attribute);
 * - a silent observer (with detection `probe`): an EventBridge rule sends the state changes of heartbeat alarms (any alarm
 *   on autoheal/ObserverHeartbeat entering ALARM, whoever created it) to the healer, which turns
 *   them into notices;
 * - alarms on the stack's own health: messages in the failure queue (invocations and rule deliveries
 *   that failed every retry) and in every dead-letter queue, the age of the oldest message waiting
 *   in each queue the healer takes (a backlog: evidence older than staleAfter must be re-checked, a
 *   vote older than the quorum window can no longer count), healer errors and throttles, alarm
 *   sync errors, failed decisions (the healer's metric: a failed mark in an SQS batch fails no
 *   invocation). They notify a topic of their own, e-mailed unfiltered: a notice about a broken
 *   healer cannot depend on the healer, and the alert topic's e-mail filter would drop a raw alarm;
 * - a dashboard (./monitoring-dashboard.ts): marks and skips by reason and decision latency (the
 *   healer's EMF metrics, namespace autoheal), queue depths, and the healer's invocations, errors
 *   and throttles.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { autohealEnv } from '../config.js';
import { heartbeatMetric } from '../prober/heartbeat-metric.js';
import { noticeAttribute } from '../operate/notices.js';
import { decisionMetric, metricsNamespace } from '../operate/emf.js';
import { dashboard } from './monitoring-dashboard.js';

/** A queue the healer takes: its backlog and its dead letters are watched. */
export interface WatchedIntake {
  /** Names the alarms (`${id}OldestMessageAlarm`, `${id}DeadLetterAlarm`). */
  readonly id: string;
  /** As the alarms' descriptions and the dashboard name it ("evidence queue"). */
  readonly label: string;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** The oldest message is late past this age. */
  readonly lateAfter: Duration;
  /** What a late message means, for the alarm's description. */
  readonly whyLate: string;
}

export interface MonitoringProps {
  readonly healer: lambda.Function;
  /** The queues the healer takes (evidence, verdicts), in the order the dashboard lists them. */
  readonly intakes?: readonly WatchedIntake[];
  /** The alarm sync function, with detection `alarms`. */
  readonly alarmSync?: lambda.IFunction;
  /** The reader of AWS's application status check, with detection `app-checks`. */
  readonly appCheckReader?: lambda.IFunction;
  /** The topic notices go to (the alert topic). */
  readonly alertTopic: sns.ITopic;
  readonly failureQueue: sqs.IQueue;
  readonly legacyQueue?: sqs.IQueue;
  readonly legacyDeadLetterQueue?: sqs.IQueue;
  /** Subscribed to the notices (filtered) and to the stack's own alarms. */
  readonly notificationEmail?: string;
  /** How the heartbeat-alarm rule reaches the healer (retried, dead-lettered). */
  readonly healerTarget: events.IRuleTarget;
  /** Observers run (detection `probe`): their heartbeat alarms become notices. */
  readonly observers: boolean;
}

/** Alarms, the notice wiring and the dashboard of one AutoHeal stack. */
export class Monitoring extends Construct {
  /** The topic the stack's own alarms notify (e-mailed unfiltered). */
  readonly stackAlarmTopic: sns.Topic;
  readonly failureQueueAlarm: cloudwatch.Alarm;
  readonly legacyDeadLetterAlarm?: cloudwatch.Alarm;
  readonly healerErrorsAlarm: cloudwatch.Alarm;
  readonly healerThrottlesAlarm: cloudwatch.Alarm;
  readonly failedDecisionsAlarm: cloudwatch.Alarm;
  /** Per queue the healer takes: its oldest message late, and its dead letters. */
  readonly intakeAlarms: cloudwatch.Alarm[];
  readonly alarmSyncErrorsAlarm?: cloudwatch.Alarm;
  /** aws-app-check votes no more: every read of a run failed, or no run at all. */
  readonly appCheckAlarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;
  /** The rule that sends heartbeat alarms to the healer, with observers. */
  readonly heartbeatRule?: events.Rule;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.stackAlarmTopic = notices(this, props);

    // A silent observer: its heartbeat alarm's state change reaches the healer, which sends the notice.
    if (props.observers) {
      this.heartbeatRule = new events.Rule(this, 'HeartbeatAlarmRule', {
        description: 'autoheal: observer heartbeat alarms entering ALARM, for the healer to send a notice',
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          detail: {
            state: { value: ['ALARM'] },
            configuration: { metrics: { metricStat: { metric: { namespace: [heartbeatMetric.namespace], name: [heartbeatMetric.name] } } } },
          },
        },
        targets: [props.healerTarget],
      });
    }

    const alarms = stackAlarms(this, { ...props, stackAlarmTopic: this.stackAlarmTopic });
    this.failureQueueAlarm = alarms.failureQueue;
    if (alarms.legacyDeadLetters) this.legacyDeadLetterAlarm = alarms.legacyDeadLetters;
    this.healerErrorsAlarm = alarms.healerErrors;
    this.healerThrottlesAlarm = alarms.healerThrottles;
    this.failedDecisionsAlarm = alarms.failedDecisions;
    this.intakeAlarms = alarms.intakes;
    if (alarms.alarmSyncErrors) this.alarmSyncErrorsAlarm = alarms.alarmSyncErrors;
    this.appCheckAlarms = alarms.appCheck;
    // The dashboard: what autoheal decided, how fast, and whether anything waits.
    this.dashboard = dashboard(this, {
      ...props,
      alarms: [
        alarms.failureQueue,
        alarms.healerErrors,
        alarms.healerThrottles,
        alarms.failedDecisions,
        ...(alarms.legacyDeadLetters ? [alarms.legacyDeadLetters] : []),
        ...alarms.intakes,
        ...(alarms.alarmSyncErrors ? [alarms.alarmSyncErrors] : []),
        ...alarms.appCheck,
      ],
    });
  }
}

/** Notices: the healer publishes them to the alert topic, and the e-mail takes notices only. Returns the stack-health topic. */
function notices(scope: Construct, props: MonitoringProps): sns.Topic {
  props.healer.addEnvironment(autohealEnv.noticeTopicArn, props.alertTopic.topicArn);
  props.alertTopic.grantPublish(props.healer);
  const stackAlarmTopic = new sns.Topic(scope, 'StackAlarmTopic', { displayName: 'autoheal stack health' });
  if (props.notificationEmail) {
    props.alertTopic.addSubscription(
      new subscriptions.EmailSubscription(props.notificationEmail, {
        filterPolicy: { [noticeAttribute]: sns.SubscriptionFilter.existsFilter() },
      }),
    );
    stackAlarmTopic.addSubscription(new subscriptions.EmailSubscription(props.notificationEmail));
  }
  return stackAlarmTopic;
}

interface StackAlarms {
  failureQueue: cloudwatch.Alarm;
  legacyDeadLetters?: cloudwatch.Alarm;
  healerErrors: cloudwatch.Alarm;
  healerThrottles: cloudwatch.Alarm;
  failedDecisions: cloudwatch.Alarm;
  intakes: cloudwatch.Alarm[];
  alarmSyncErrors?: cloudwatch.Alarm;
  appCheck: cloudwatch.Alarm[];
}

/** The alarms on the stack's own health, notifying the stack-health topic. */
function stackAlarms(scope: Construct, props: MonitoringProps & { stackAlarmTopic: sns.ITopic }): StackAlarms {
  const { healer } = props;
  const notify = new actions.SnsAction(props.stackAlarmTopic);
  // Every alarm of the stack's own: one or more in a period raises it, no data is fine.
  const alarmOn = (alarmId: string, metric: cloudwatch.Metric, description: string): cloudwatch.Alarm => {
    const alarm = metric.createAlarm(scope, alarmId, {
      alarmDescription: description,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(notify);
    return alarm;
  };
  const queueAlarm = (alarmId: string, queue: sqs.IQueue, what: string): cloudwatch.Alarm =>
    alarmOn(
      alarmId,
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      `autoheal: ${what}. Read them (the message says what failed), fix the cause, then redrive or delete them.`,
    );
  const failureQueue = queueAlarm('FailureQueueAlarm', props.failureQueue, 'healer invocations or rule deliveries failed every retry and wait in the failure queue');
  const legacyDeadLetters = props.legacyDeadLetterQueue
    ? queueAlarm('LegacyDeadLetterAlarm', props.legacyDeadLetterQueue, 'messages of the legacy queue could not be handled and wait in its dead-letter queue')
    : undefined;
  const fnAlarm = (alarmId: string, metric: cloudwatch.Metric, what: string): cloudwatch.Alarm => alarmOn(alarmId, metric, `autoheal: ${what}`);
  const healerErrors = fnAlarm(
    'HealerErrorsAlarm',
    healer.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
    'the healer failed (an invocation threw). Its log group has the error ("verdict: work failed" lines name the instance).',
  );
  const healerThrottles = fnAlarm(
    'HealerThrottlesAlarm',
    healer.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
    "the healer was throttled (the account's concurrency limit): queued evidence waits in its queue and is retried; direct runs (held work, notices) are retried, then land in the failure queue.",
  );

  // A mark that failed (AccessDenied, a throttled call out of retries) need not fail the invocation:
  // an SQS batch reports it as an item failure. The healer's own metric catches it.
  const failedDecisions = fnAlarm(
    'FailedDecisionsAlarm',
    new cloudwatch.Metric({ namespace: metricsNamespace, metricName: decisionMetric.count, dimensionsMap: { [decisionMetric.action]: 'failed' }, period: Duration.minutes(5), statistic: 'Sum' }),
    'a decision failed (the fleet could not be read, or SetInstanceHealth was refused). `autoheal history --since 1h` lists it with the error.',
  );
  const intakes = (props.intakes ?? []).flatMap((intake) => [
    // Late for two minutes running: one slow batch is not a backlog.
    waitAlarm(scope, intake, notify),
    queueAlarm(`${intake.id}DeadLetterAlarm`, intake.deadLetterQueue, `messages of the ${intake.label} could not be handled and wait in its dead-letter queue`),
  ]);
  const alarmSyncErrors = props.alarmSync
    ? fnAlarm(
        'AlarmSyncErrorsAlarm',
        props.alarmSync.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        'the alarm sync failed: instances may lack their alarm until a run succeeds. Its log group has the error.',
      )
    : undefined;
  const appCheck = props.appCheckReader ? appCheckAlarms(scope, props.appCheckReader, notify, fnAlarm) : [];
  return {
    failureQueue,
    appCheck,
    ...(legacyDeadLetters ? { legacyDeadLetters } : {}),
    healerErrors,
    healerThrottles,
    failedDecisions,
    intakes,
    ...(alarmSyncErrors ? { alarmSyncErrors } : {}),
  };
}

/**
 * aws-app-check gone silent, either way: a run whose every read failed throws (src/app-check/handler.ts),
 * and a reader that is not invoked at all (a disabled schedule, a deleted permission) leaves no
 * Errors to count, so its Invocations, one a minute, are watched too: none for 3 minutes raises it.
 */
function appCheckAlarms(
  scope: Construct,
  reader: lambda.IFunction,
  notify: actions.SnsAction,
  fnAlarm: (alarmId: string, metric: cloudwatch.Metric, what: string) => cloudwatch.Alarm,
): cloudwatch.Alarm[] {
  const errors = fnAlarm(
    'AppCheckErrorsAlarm',
    reader.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
    'every read of an app-check run failed: aws-app-check votes no more until a run reads again. Its log group has the error.',
  );
  const silent = reader.metricInvocations({ period: Duration.minutes(1), statistic: 'Sum' }).createAlarm(scope, 'AppCheckSilentAlarm', {
    alarmDescription: 'autoheal: the app-check reader ran not once in 3 minutes (its schedule, or its permission to be invoked): aws-app-check votes no more.',
    threshold: 1,
    evaluationPeriods: 3,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  silent.addAlarmAction(notify);
  return [errors, silent];
}

/** The oldest message of a queue the healer takes has waited past its lateness, two minutes running. */
function waitAlarm(scope: Construct, intake: WatchedIntake, notify: actions.SnsAction): cloudwatch.Alarm {
  const seconds = intake.lateAfter.toSeconds();
  const alarm = intake.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }).createAlarm(scope, `${intake.id}OldestMessageAlarm`, {
    alarmDescription: `autoheal: the oldest message of the ${intake.label} has waited ${seconds} s or more: ${intake.whyLate}. Look at the healer's errors and throttles, and raise the intake's maximum concurrency if it keeps up too slowly.`,
    threshold: seconds,
    evaluationPeriods: 2,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(notify);
  return alarm;
}
