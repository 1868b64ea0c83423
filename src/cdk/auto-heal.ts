/**
 * The CDK construct that deploys autoheal in one step. What it creates, and why each piece (each
 * in its own room of this folder):
 *
 * - the healer Lambda (dist/lambda.mjs, nodejs22.x on arm64) with its own log group and an SQS
 *   on-failure destination, so an invocation that failed every retry is kept, not lost
 *   (./healer.ts);
 * - an SNS alert topic (optionally e-mailed) that autoheal's alarms notify;
 * - for `alarms`: an EventBridge rule delivering "CloudWatch Alarm State Change" events of alarms
 *   named with autoheal's prefix to the healer, and a rule delivering the groups' "EC2 Instance
 *   Launch/Terminate Successful" events so the healer creates and deletes per-instance alarms;
 *   in `metrics-insights` mode instead, one Metrics Insights alarm per named group (each instance
 *   a contributor) and a rule on "CloudWatch Alarm Contributor State Change" (./alarm-detection.ts);
 *   and a schedule rule (every 10 minutes by default) on which the healer syncs every managed
 *   group's alarms, plus one sync at deploy time (a custom resource), so the instances that
 *   already run get theirs and a lost alarm comes back (./alarm-sync.ts);
 * - for `probe`: a filtered subscription of the healer to the alert topic (only probe verdicts,
 *   alarm names `autoheal-probe-…`), a managed policy for the host that runs `autoheal probe`, and
 *   with `probe.subnets` the observers (./probe-detection.ts, ./observers.ts);
 * - for `legacyQueue`: the original topic → SQS queue (with a dead-letter queue) path, the queue
 *   accepting SendMessage only from the topic (./legacy-queue.ts);
 * - for `quarantine`: the evidence bucket, a termination lifecycle hook on each named group and the
 *   function that keeps a marked instance's console output before its termination goes on
 *   (./evidence.ts);
 * - an alarm-cleanup custom resource, so deleting the stack deletes every alarm of the prefix
 *   (./alarm-cleanup.ts);
 * - notices, the stack's own alarms and its dashboard (./monitoring.ts), and the outputs.
 *
 * The props are validated once (./resolve.ts) into the settings every room is built from.
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmArnsOf, alarmCleanup } from './alarm-cleanup.js';
import { alarmDetection } from './alarm-detection.js';
import { evidenceCapture } from './evidence.js';
import { healerFunction, healerRole, healerTarget, type HealerRef } from './healer.js';
import { legacyQueue } from './legacy-queue.js';
import { Monitoring } from './monitoring.js';
import type { Observers } from './observers.js';
import { probeDetection } from './probe-detection.js';
import type { AutoHealProps } from './props.js';
import { resolveProps } from './resolve.js';

/**
 * Deploys autoheal: the healer Lambda and the wiring that feeds it evidence, with least-privilege
 * IAM. See the README section "Deploy on AWS" for every IAM action it grants.
 */
export class AutoHeal extends Construct {
  /** The healer function. */
  readonly healer: lambda.Function;
  /** The topic autoheal's alarms notify, the prober publishes to, and the operator may subscribe to. */
  readonly alertTopic: sns.Topic;
  /** Invocations that failed every retry, and rule deliveries that failed. */
  readonly failureQueue: sqs.Queue;
  /** The healer's log group. */
  readonly logGroup: logs.LogGroup;
  /** The legacy queue, when `legacyQueue` is set. */
  readonly legacyQueue?: sqs.Queue;
  /** The prober host's managed policy, with detection `probe`. */
  readonly proberPolicy?: iam.ManagedPolicy;
  /** The legacy queue's dead-letter queue, when `legacyQueue` is set. */
  readonly legacyDeadLetterQueue?: sqs.Queue;
  /** Notices, the stack's own alarms and its dashboard (./monitoring.ts). */
  readonly monitoring: Monitoring;
  /** The observers, with detection `probe` and `probe.subnets`. */
  readonly observers?: Observers;
  /** Where each marked instance's evidence is kept, with `quarantine` (./evidence.ts). */
  readonly evidenceBucket?: s3.Bucket;

  constructor(scope: Construct, id: string, props: AutoHealProps = {}) {
    super(scope, id);
    const config = resolveProps(this, props);
    const alarmArns = alarmArnsOf(this, config.alarm.prefix);

    this.alertTopic = new sns.Topic(this, 'AlertTopic', { displayName: 'autoheal alerts' });
    this.failureQueue = new sqs.Queue(this, 'FailureQueue', { retentionPeriod: Duration.days(14), enforceSSL: true });
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: config.healer.logRetention, removalPolicy: config.healer.logRemovalPolicy });
    const role = healerRole(this, { config, logGroup: this.logGroup, alarmArns });
    // Deleted after everything that can create alarms (the healer and the rules depend on it),
    // so no alarm is created behind its back while the stack goes away.
    const cleanup = alarmCleanup(this, { prefix: config.alarm.prefix, alarmArns });
    this.healer = healerFunction(this, { config, role, logGroup: this.logGroup, failureQueue: this.failureQueue, alertTopic: this.alertTopic, cleanup });
    const healer: HealerRef = { fn: this.healer, failureQueue: this.failureQueue };

    if (config.alarms) alarmDetection(this, { config, healer, alertTopic: this.alertTopic, cleanup });
    if (config.probe) {
      const probe = probeDetection(this, { config, healer, alertTopic: this.alertTopic });
      this.proberPolicy = probe.proberPolicy;
      this.observers = probe.observers;
    }
    if (config.evidence) this.evidenceBucket = evidenceCapture(this, { config, evidence: config.evidence, healer }).bucket;
    if (config.legacy) {
      const legacy = legacyQueue(this, { legacy: config.legacy, healer, healerTimeout: config.healer.timeout, alertTopic: this.alertTopic });
      this.legacyQueue = legacy.queue;
      this.legacyDeadLetterQueue = legacy.deadLetterQueue;
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      healer: this.healer,
      alertTopic: this.alertTopic,
      failureQueue: this.failureQueue,
      ...(this.legacyQueue ? { legacyQueue: this.legacyQueue } : {}),
      ...(this.legacyDeadLetterQueue ? { legacyDeadLetterQueue: this.legacyDeadLetterQueue } : {}),
      ...(config.notificationEmail ? { notificationEmail: config.notificationEmail } : {}),
      healerTarget: healerTarget(healer),
      observers: config.probe,
    });
    this.monitoring.heartbeatRule?.node.addDependency(cleanup);

    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn });
    new CfnOutput(this, 'HealerFunctionName', { value: this.healer.functionName });
    new CfnOutput(this, 'HealerLogGroupName', { value: this.logGroup.logGroupName });
    // What `autoheal status` and `autoheal alarms` need as --prefix to see this stack's alarms.
    new CfnOutput(this, 'AlarmPrefix', { value: config.alarm.prefix });
  }
}
