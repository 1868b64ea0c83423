/**
 * The observers the construct deploys for detection `probe`: one looping Lambda function per
 * subnet (at least two, in different Availability Zones), VPC-attached, started every minute by
 * an EventBridge schedule (a run that died is replaced by the next schedule, by AWS, with nothing
 * for the user to host, patch or restart). Runs of one observer never overlap without reserved
 * concurrency (which would fail the deploy in an account whose concurrency quota is low): a run
 * holds the observer's lease in the ledger table (`pk = lease#<observer>`).
 * Each run probes for 55 s (dist/observer.mjs) and sends each round's verdicts, OK ones too, to
 * the verdict channel (./verdict-channel.ts), which the healer takes; the healer marks only when
 * `probeQuorum` observers agree. Each observer beats (EMF `ObserverHeartbeat`, dimension `Observer`), and an
 * alarm per observer notifies the alert topic when its heartbeat goes silent (missing data
 * breaches); another when it probes nothing or cannot discover its groups (./observer-alarms.ts).
 *
 * What the VPC must give the observers: a route to the SQS, DynamoDB, Auto Scaling and EC2 APIs (a
 * NAT gateway, or endpoints for `sqs`, `dynamodb`, `autoscaling` and `ec2`), and the instances must
 * accept the observers' security group on the probed port (the construct adds that rule when
 * given the instances' security group, otherwise the output `ObserverSecurityGroupId` names the
 * group to allow).
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { autohealEnv } from '../config.js';
import { ConfigError } from '../errors.js';
import { observerEnv } from '../observer/settings.js';
import { heartbeatMetric } from '../prober/heartbeat.js';
import { grantLease } from './ledger-table.js';
import { observerTargetsAlarm } from './observer-alarms.js';
import { observerDefaults, observerName, observersProblems, type ObserverSubnet, type ObserversSettings } from './observer-settings.js';

/** What {@link Observers} needs from the construct. */
export interface ObserversProps extends ObserversSettings {
  readonly groupNames: readonly string[];
  /** The topic the heartbeat and targets alarms notify. */
  readonly alertTopic: sns.ITopic;
  /** The verdict channel the observers send their verdicts to (./verdict-channel.ts). */
  readonly verdictQueue: sqs.IQueue;
  /** The ledger table that holds each observer's lease. */
  readonly ledgerTable: dynamodb.ITable;
  readonly bundleDir: string;
}

/** The observers, their security group, schedules and heartbeat alarms. */
export class Observers extends Construct {
  readonly functions: lambda.Function[] = [];
  readonly heartbeatAlarms: cloudwatch.Alarm[] = [];
  /** Per observer: it probes nothing, or its discovery fails (./observer-alarms.ts). */
  readonly targetsAlarms: cloudwatch.Alarm[] = [];
  readonly securityGroupId: string;
  /** The role every observer shares: the only one, with the host's, that may send to the verdict channel. */
  readonly role: iam.Role;
  /** The observers' names (what the healer counts, AUTOHEAL_OBSERVERS), one per zone. */
  readonly names: string[];

  constructor(scope: Construct, id: string, props: ObserversProps) {
    super(scope, id);
    const problems = observersProblems(props, props.groupNames);
    if (!existsSync(join(props.bundleDir, 'observer.mjs'))) {
      problems.push(`bundleDir: ${join(props.bundleDir, 'observer.mjs')} not found (run "npm run build" in autoheal first)`);
    }
    if (problems.length > 0) throw new ConfigError(`AutoHeal ${scope.node.path}: invalid props:\n  ${problems.join('\n  ')}`);
    const port = props.port ?? observerDefaults.port;

    const vpcId = props.vpcId ?? subnetVpc(this, props.subnets[0] as ObserverSubnet);
    const group = observerSecurityGroup(this, { vpcId, port, instanceSecurityGroupId: props.instanceSecurityGroupId });
    this.securityGroupId = group.attrGroupId;
    const { role, logGroup } = observerRole(this, props.verdictQueue);
    grantLease(role, props.ledgerTable);
    this.role = role;
    this.names = props.subnets.map((s) => observerName(s.availabilityZone));

    const code = lambda.Code.fromAsset(props.bundleDir, { exclude: ['*', '!observer.mjs'] });
    for (const subnet of props.subnets) {
      const { fn, alarm } = zoneObserver(this, { ...props, subnet, port, code, role, logGroup, securityGroupId: group.attrGroupId });
      this.functions.push(fn);
      this.heartbeatAlarms.push(alarm);
      const zone = subnet.availabilityZone;
      const stackName = Stack.of(this).stackName;
      this.targetsAlarms.push(observerTargetsAlarm(this, { id: `Targets${zone.replace(/[^A-Za-z0-9]/g, '')}`, observer: observerName(zone), availabilityZone: zone, stackName, alertTopic: props.alertTopic }));
    }
    new CfnOutput(this, 'ObserverSecurityGroupId', {
      value: group.attrGroupId,
      description: `Allow this security group on the instances' port ${port}/tcp (the observers probe from it)`,
    });
  }
}

/** The VPC of a subnet, read at deploy time (no credentials or network at synth). */
function subnetVpc(scope: Construct, subnet: ObserverSubnet): string {
  const lookup = new cr.AwsCustomResource(scope, 'SubnetVpc', {
    onUpdate: {
      service: 'EC2',
      action: 'describeSubnets',
      parameters: { SubnetIds: [subnet.subnetId] },
      physicalResourceId: cr.PhysicalResourceId.of(`vpc-of-${subnet.subnetId}`),
      outputPaths: ['Subnets.0.VpcId'],
    },
    policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['ec2:DescribeSubnets'], resources: ['*'] })]),
    installLatestAwsSdk: false,
  });
  return lookup.getResponseField('Subnets.0.VpcId');
}

/** The observers' security group, and the instances' rule that lets it in when their group is given. */
function observerSecurityGroup(scope: Construct, input: { vpcId: string; port: number; instanceSecurityGroupId: string | undefined }): ec2.CfnSecurityGroup {
  const { vpcId, port } = input;
  const group = new ec2.CfnSecurityGroup(scope, 'SecurityGroup', {
    groupDescription: 'autoheal observers: probe the instances, call AWS APIs over HTTPS',
    vpcId,
    // Only what an observer does: the probed port, and HTTPS to the APIs (NAT or endpoints).
    securityGroupEgress: [
      { ipProtocol: 'tcp', fromPort: port, toPort: port, cidrIp: '0.0.0.0/0', description: 'probe the instances' },
      ...(port === 443 ? [] : [{ ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIp: '0.0.0.0/0', description: 'SQS, Auto Scaling, EC2 APIs' }]),
    ],
  });
  if (input.instanceSecurityGroupId) {
    new ec2.CfnSecurityGroupIngress(scope, 'InstanceIngress', {
      groupId: input.instanceSecurityGroupId,
      ipProtocol: 'tcp',
      fromPort: port,
      toPort: port,
      sourceSecurityGroupId: group.attrGroupId,
      description: 'autoheal observers probe the instances',
    });
  }
  return group;
}

/** The log group and the role every observer shares: discovery, publishing verdicts, its network interfaces. */
function observerRole(scope: Construct, verdictQueue: sqs.IQueue): { role: iam.Role; logGroup: logs.LogGroup } {
  const logGroup = new logs.LogGroup(scope, 'LogGroup', { retention: logs.RetentionDays.TWO_WEEKS, removalPolicy: RemovalPolicy.DESTROY });
  const role = new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'autoheal observers: discover the groups, send verdicts to the verdict channel',
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
  // Describe calls of Auto Scaling and EC2 support no resource-level permissions.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'DiscoverInstances', actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'], resources: ['*'] }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SendVerdicts', actions: ['sqs:SendMessage'], resources: [verdictQueue.queueArn] }));
  // What AWSLambdaVPCAccessExecutionRole grants, spelled out: the function's network interfaces.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VpcNetworkInterfaces',
      actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: ['*'],
    }),
  );
  return { role, logGroup };
}

/** What one observer is made of: its zone's subnet, and what every observer shares. */
interface ObserverInput extends ObserversProps {
  readonly subnet: ObserverSubnet;
  readonly port: number;
  readonly code: lambda.Code;
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  readonly securityGroupId: string;
}

/** One observer: its function in its zone's subnet, the schedule that starts it, and its heartbeat alarm. */
function zoneObserver(scope: Construct, input: ObserverInput): { fn: lambda.Function; alarm: cloudwatch.Alarm } {
  const { subnet, alertTopic } = input;
  const name = observerName(subnet.availabilityZone);
  const zoneId = subnet.availabilityZone.replace(/[^A-Za-z0-9]/g, '');
  const fn = new lambda.Function(scope, `Observer${zoneId}`, {
    description: `autoheal observer in ${subnet.availabilityZone}: probes the instances, sends verdicts`,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'observer.handler',
    code: input.code,
    role: input.role,
    logGroup: input.logGroup,
    // A run probes 55 s; the deadline leaves it time to stop and flush, and ends before the next minute's run.
    timeout: Duration.seconds(60),
    memorySize: input.memorySize ?? observerDefaults.memorySize,
    // A throttled or failed run is not retried: the next minute's run replaces it.
    retryAttempts: 0,
    maxEventAge: Duration.seconds(60),
    environment: {
      [observerEnv.name]: name,
      [observerEnv.groups]: input.groupNames.join(','),
      [observerEnv.port]: String(input.port),
      [observerEnv.check]: input.check ?? observerDefaults.check,
      [observerEnv.path]: input.path ?? observerDefaults.path,
      // Verdicts, OK ones too, go to the channel only observers may write (./verdict-channel.ts).
      [observerEnv.verdictQueueUrl]: input.verdictQueue.queueUrl,
      // Where its lease is (runs never overlap).
      [autohealEnv.ledgerTable]: input.ledgerTable.tableName,
      [observerEnv.intervalMs]: String(input.interval?.toMilliseconds() ?? observerDefaults.intervalMs),
      [observerEnv.timeoutMs]: String(input.timeout?.toMilliseconds() ?? observerDefaults.timeoutMs),
      [observerEnv.unhealthyThreshold]: String(input.unhealthyThreshold ?? observerDefaults.unhealthyThreshold),
      [observerEnv.runForMs]: '55000',
    },
  });
  // VPC-attached through the L1 properties: the L2 wants an IVpc, which needs a lookup (credentials) at synth.
  (fn.node.defaultChild as lambda.CfnFunction).vpcConfig = { subnetIds: [subnet.subnetId], securityGroupIds: [input.securityGroupId] };
  new events.Rule(scope, `Schedule${zoneId}`, {
    description: `autoheal: start the observer in ${subnet.availabilityZone} every minute`,
    schedule: events.Schedule.rate(Duration.minutes(1)),
    targets: [new targets.LambdaFunction(fn, { retryAttempts: 0, maxEventAge: Duration.seconds(60) })],
  });
  const alarm = new cloudwatch.Alarm(scope, `Heartbeat${zoneId}`, {
    alarmName: `autoheal-observer-silent-${Stack.of(scope).stackName}-${subnet.availabilityZone}`,
    alarmDescription: `autoheal observer ${name} sent no heartbeat for 2 minutes: probing from ${subnet.availabilityZone} has stopped (see its log group)`,
    metric: new cloudwatch.Metric({
      namespace: heartbeatMetric.namespace,
      metricName: heartbeatMetric.name,
      dimensionsMap: { [heartbeatMetric.dimension]: name },
      statistic: 'SampleCount',
      period: Duration.minutes(1),
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    // Two minutes: one run may be lost to a deploy or a cold start without paging anyone.
    evaluationPeriods: 2,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  alarm.addAlarmAction(new actions.SnsAction(alertTopic));
  alarm.addOkAction(new actions.SnsAction(alertTopic));
  return { fn, alarm };
}
