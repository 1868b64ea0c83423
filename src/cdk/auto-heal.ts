/**
 * The CDK construct that deploys autoheal in one step. What it creates, and why each piece (each
 * in its own room of this folder):
 *
 * - the healer Lambda (dist/lambda.mjs, nodejs22.x on arm64) with its own log group and an SQS
 *   on-failure destination for its direct invocations (./healer.ts). It reserves no concurrency:
 *   it runs at any concurrency, groups in parallel, so a deploy works in an account whose
 *   concurrency quota is 10;
 * - the ledger table, the rails' memory shared by every healer process (./ledger-table.ts);
 * - an SNS alert topic (optionally e-mailed) that autoheal's alarms notify;
 * - for `alarms`: EventBridge rules delivering "CloudWatch Alarm State Change" events of alarms
 *   named with autoheal's prefix, and the groups' "EC2 Instance Launch/Terminate Successful"
 *   events, to the evidence queue the healer takes in batches (./intake.ts); in `metrics-insights`
 *   mode instead, one Metrics Insights alarm per named group (each instance a contributor) and a
 *   rule on "CloudWatch Alarm Contributor State Change"; a schedule on which the healer decides
 *   again the alarms still in ALARM (held work) (./alarm-detection.ts); and the alarm sync, a
 *   function of its own on the same schedule and once at deploy time, so the instances that
 *   already run get their alarms and a lost alarm comes back (./alarm-sync.ts);
 * - for `probe`: the verdict channel, an SQS queue only the observers (and the named prober host)
 *   may write, taken by the healer in batches (./verdict-channel.ts), a managed policy for the
 *   host that runs `autoheal probe`, and with `probe.subnets` the observers, whose runs never
 *   overlap thanks to a lease in the ledger table (./probe-detection.ts, ./observers.ts);
 * - for `app-checks`: an EC2 application status check with aggregation `excluded` on the probe's
 *   port and path, associated with the groups' instances by their group-name tag, and a reader
 *   that sends its verdicts to the verdict channel as the observer `aws-app-check` (./app-check.ts);
 * - for `legacyQueue`: the original topic → SQS queue (with a dead-letter queue) path, the queue
 *   accepting SendMessage only from the topic (./legacy-queue.ts);
 * - for `quarantine`: the evidence bucket, a termination lifecycle hook on each named group and the
 *   function that keeps a marked instance's console output before its termination goes on
 *   (./evidence.ts);
 * - for `replacement`: the group settings function, run at deploy time once per named group, that
 *   sets its instance maintenance policy to launch first and takes it back on delete (./group-settings.ts);
 * - an alarm-cleanup custom resource, so deleting the stack deletes every alarm of the prefix
 *   (./alarm-cleanup.ts);
 * - notices, the stack's own alarms (the evidence queue's backlog among them) and its dashboard
 *   (./monitoring.ts), and the outputs.
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
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { alarmArnsOf, alarmCleanup } from './alarm-cleanup.js';
import { alarmDetection } from './alarm-detection.js';
import { evidenceCapture } from './evidence.js';
import { groupSettings } from './group-settings.js';
import { healerFunction, healerRole, healerTarget, type HealerRef } from './healer.js';
import { ledgerTable } from './ledger-table.js';
import { legacyQueue } from './legacy-queue.js';
import { Monitoring, type WatchedIntake } from './monitoring.js';
import type { Observers } from './observers.js';
import { appCheckDetection } from './app-check.js';
import { closeChannel, openChannel, probeDetection } from './probe-detection.js';
import { appCheckObserver } from '../app-check/verdicts.js';
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
  /** The rails' memory (AUTOHEAL_LEDGER_TABLE) and the observers' leases. */
  readonly ledgerTable: dynamodb.Table;
  /** The verdict channel the healer takes probe verdicts from (detection `probe`). */
  readonly verdictQueue?: sqs.Queue;
  /** The evidence queue the healer takes, when an EventBridge rule feeds it (detection `alarms`). */
  readonly evidenceQueue?: sqs.Queue;
  /** The alarm sync function, with detection `alarms`. */
  readonly alarmSync?: lambda.Function;
  /** Where each marked instance's evidence is kept, with `quarantine` (./evidence.ts). */
  readonly evidenceBucket?: s3.Bucket;
  /** The reader of AWS's application status check (the observer aws-app-check), with detection `app-checks`. */
  readonly appCheckReader?: lambda.Function;

  constructor(scope: Construct, id: string, props: AutoHealProps = {}) {
    super(scope, id);
    const config = resolveProps(this, props);
    const alarmArns = alarmArnsOf(this, config.alarm.prefix);

    this.alertTopic = new sns.Topic(this, 'AlertTopic', { displayName: 'autoheal alerts' });
    this.failureQueue = new sqs.Queue(this, 'FailureQueue', { retentionPeriod: Duration.days(14), enforceSSL: true });
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: config.healer.logRetention, removalPolicy: config.healer.logRemovalPolicy });
    this.ledgerTable = ledgerTable(this);
    const role = healerRole(this, { config, logGroup: this.logGroup, alarmArns, ledgerTable: this.ledgerTable });
    // Deleted after everything that can create alarms (the healer and the rules depend on it),
    // so no alarm is created behind its back while the stack goes away.
    const cleanup = alarmCleanup(this, { prefix: config.alarm.prefix, alarmArns });
    this.healer = healerFunction(this, {
      config,
      role,
      logGroup: this.logGroup,
      failureQueue: this.failureQueue,
      alertTopic: this.alertTopic,
      cleanup,
      ledgerTable: this.ledgerTable,
    });
    const healer: HealerRef = { fn: this.healer, failureQueue: this.failureQueue };

    const intakes: WatchedIntake[] = [];
    if (config.alarms) {
      const alarms = alarmDetection(this, { config, healer, alertTopic: this.alertTopic, cleanup });
      this.alarmSync = alarms.sync.fn;
      if (alarms.evidence) {
        this.evidenceQueue = alarms.evidence.queue;
        intakes.push({ id: 'Evidence', label: 'evidence queue', ...alarms.evidence, lateAfter: config.lateAfter.evidence, whyLate: 'alarm evidence that old is re-checked before it acts, and healing waits' });
      }
    }
    if (config.probe || config.appCheck) {
      const verdicts = openChannel(this, config, healer);
      this.verdictQueue = verdicts.queue;
      intakes.push({ id: 'Verdict', label: 'verdict channel', ...verdicts, lateAfter: config.lateAfter.evidence, whyLate: 'probe verdicts, withdrawals too, wait unread, and healing waits' });
      const probe = config.probe ? probeDetection(this, { config, verdicts, alertTopic: this.alertTopic, ledgerTable: this.ledgerTable }) : undefined;
      this.proberPolicy = probe?.proberPolicy;
      this.observers = probe?.observers;
      const appCheck = config.appCheck
        ? appCheckDetection(this, { target: config.appCheck, groupNames: config.groupNames, verdictQueue: verdicts.queue, ledgerTable: this.ledgerTable, bundleDir: config.bundleDir })
        : undefined;
      this.appCheckReader = appCheck?.reader;
      closeChannel(verdicts, healer, {
        senderRoleArns: [...(probe?.senderRoleArns ?? []), ...(appCheck ? [appCheck.role.roleArn] : [])],
        names: [...(probe?.observers?.names ?? []), ...(appCheck ? [appCheckObserver] : [])],
      });
    }
    if (config.evidence) this.evidenceBucket = evidenceCapture(this, { config, evidence: config.evidence, healer, ledgerTable: this.ledgerTable, alertTopic: this.alertTopic }).bucket;
    if (config.groupSettings) groupSettings(this, { config, settings: config.groupSettings, healer });
    if (config.legacy) {
      const legacy = legacyQueue(this, { legacy: config.legacy, healer, healerTimeout: config.healer.timeout, alertTopic: this.alertTopic });
      this.legacyQueue = legacy.queue;
      this.legacyDeadLetterQueue = legacy.deadLetterQueue;
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      healer: this.healer,
      intakes,
      ...(this.alarmSync ? { alarmSync: this.alarmSync } : {}),
      ...(this.appCheckReader ? { appCheckReader: this.appCheckReader } : {}),
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
    // What `autoheal status` and `heal --ledger-table` need to read the rails' memory.
    new CfnOutput(this, 'LedgerTableName', { value: this.ledgerTable.tableName });
  }
}
