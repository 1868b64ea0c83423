/**
 * The observers the construct deploys for detection `probe`: one looping Lambda function per
 * subnet (at least two, in different Availability Zones), VPC-attached, started every minute by
 * an EventBridge schedule with reserved concurrency 1 (runs never overlap; a run that died is
 * replaced by the next schedule, by AWS, with nothing for the user to host, patch or restart).
 * Each run probes for 55 s (dist/observer.mjs) and publishes its verdicts to the alert topic,
 * where the healer's filtered subscription takes them; the healer marks only when `probeQuorum`
 * observers agree. Each observer beats (EMF `ObserverHeartbeat`, dimension `Observer`), and an
 * alarm per observer notifies the alert topic when its heartbeat goes silent (missing data
 * breaches).
 *
 * What the VPC must give the observers: a route to the SNS, Auto Scaling and EC2 APIs (a NAT
 * gateway, or interface endpoints for `sns`, `autoscaling` and `ec2`), and the instances must
 * accept the observers' security group on the probed port (the construct adds that rule when
 * given the instances' security group, otherwise the output `ObserverSecurityGroupId` names the
 * group to allow).
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { observerEnv } from '../observer/settings.js';
import { heartbeatMetric } from '../prober/heartbeat.js';
import { isTargetPort, targetPortRange } from '../prober/options.js';

/** A subnet an observer runs in. */
export interface ObserverSubnet {
  readonly subnetId: string;
  readonly availabilityZone: string;
}

/** The observers' settings (the construct's `probe` prop). */
export interface ObserversSettings {
  /** One observer per subnet; at least two, in at least two Availability Zones. */
  readonly subnets: readonly ObserverSubnet[];
  /** The VPC of the subnets. @default - looked up from the first subnet at deploy time (ec2:DescribeSubnets) */
  readonly vpcId?: string;
  /** The instances' port that is probed. @default 80 */
  readonly port?: number;
  /** `http` (GET `path`, expect 200) or `tcp` (a connection is accepted). @default 'http' */
  readonly check?: 'http' | 'tcp';
  /** The HTTP check's path. @default '/health' */
  readonly path?: string;
  /** Probe interval. @default Duration.seconds(2) */
  readonly interval?: Duration;
  /** A probe not answered within this failed. @default Duration.seconds(1) */
  readonly timeout?: Duration;
  /** Consecutive failed probes that make an observer's verdict unhealthy. @default 2 */
  readonly unhealthyThreshold?: number;
  /**
   * The instances' security group: the construct adds the ingress rule from the observers on
   * `port`. @default - none: allow the output ObserverSecurityGroupId on the port yourself
   */
  readonly instanceSecurityGroupId?: string;
  /** Memory of each observer function (CPU scales with it; the self-check needs a timely loop). @default 256 */
  readonly memorySize?: number;
}

/** What {@link Observers} needs from the construct. */
export interface ObserversProps extends ObserversSettings {
  readonly groupNames: readonly string[];
  readonly alertTopic: sns.ITopic;
  readonly bundleDir: string;
}

/** Defaults, documented on {@link ObserversSettings}. */
export const observerDefaults = { port: 80, check: 'http', path: '/health', intervalMs: 2_000, timeoutMs: 1_000, unhealthyThreshold: 2, memorySize: 256 } as const;

const subnetIdPattern = /^subnet-[0-9a-f]{1,17}$/;
const azPattern = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

/** The problems of the settings, each naming the prop (empty when they are fine). */
export function observersProblems(s: ObserversSettings, groupNames: readonly string[]): string[] {
  const problems: string[] = [];
  if (s.subnets.length < 2) problems.push(`probe.subnets: give at least two subnets in different Availability Zones (got ${s.subnets.length})`);
  for (const [i, subnet] of s.subnets.entries()) {
    if (!subnetIdPattern.test(subnet.subnetId)) problems.push(`probe.subnets[${i}].subnetId: "${subnet.subnetId}" is not a subnet id (subnet-0123abcd)`);
    if (!azPattern.test(subnet.availabilityZone)) problems.push(`probe.subnets[${i}].availabilityZone: "${subnet.availabilityZone}" is not an Availability Zone (us-east-1a)`);
  }
  const zones = new Set(s.subnets.map((x) => x.availabilityZone));
  if (s.subnets.length >= 2 && zones.size < 2) problems.push('probe.subnets: all in one Availability Zone; observers must see from at least two');
  if (zones.size !== s.subnets.length) problems.push('probe.subnets: one subnet per Availability Zone (observers are named by zone)');
  if (groupNames.length === 0) problems.push('groups: name the groups the observers probe (observers do not follow the opt-in tag)');
  const port = s.port ?? observerDefaults.port;
  if (!isTargetPort(port)) problems.push(`probe.port: ${targetPortRange}, got ${port}`);
  const intervalMs = s.interval?.toMilliseconds() ?? observerDefaults.intervalMs;
  const timeoutMs = s.timeout?.toMilliseconds() ?? observerDefaults.timeoutMs;
  if (intervalMs < 500 || intervalMs > 30_000) problems.push(`probe.interval: from 0.5 to 30 seconds, got ${intervalMs} ms`);
  if (timeoutMs > intervalMs) problems.push(`probe.timeout: at most probe.interval (${intervalMs} ms), got ${timeoutMs} ms`);
  const threshold = s.unhealthyThreshold ?? observerDefaults.unhealthyThreshold;
  if (!(Number.isInteger(threshold) && threshold >= 1 && threshold <= 10)) problems.push(`probe.unhealthyThreshold: an integer from 1 to 10, got ${threshold}`);
  const memory = s.memorySize ?? observerDefaults.memorySize;
  if (!(Number.isInteger(memory) && memory >= 128 && memory <= 10_240)) problems.push(`probe.memorySize: an integer from 128 to 10240 MB, got ${memory}`);
  if (s.path !== undefined && !s.path.startsWith('/')) problems.push(`probe.path: must start with "/", got "${s.path}"`);
  return problems;
}

/** The observer's name for a zone: what the quorum counts and the heartbeat's dimension. */
export const observerName = (availabilityZone: string): string => `observer-${availabilityZone}`;

/** The observers, their security group, schedules and heartbeat alarms. */
export class Observers extends Construct {
  readonly functions: lambda.Function[] = [];
  readonly heartbeatAlarms: cloudwatch.Alarm[] = [];
  readonly securityGroupId: string;

  constructor(scope: Construct, id: string, props: ObserversProps) {
    super(scope, id);
    const problems = observersProblems(props, props.groupNames);
    if (!existsSync(join(props.bundleDir, 'observer.mjs'))) {
      problems.push(`bundleDir: ${join(props.bundleDir, 'observer.mjs')} not found (run "npm run build" in autoheal first)`);
    }
    if (problems.length > 0) throw new ConfigError(`AutoHeal ${scope.node.path}: invalid props:\n  ${problems.join('\n  ')}`);
    const port = props.port ?? observerDefaults.port;
    const stack = Stack.of(this);

    const vpcId = props.vpcId ?? this.vpcOf(props.subnets[0] as ObserverSubnet);
    const group = new ec2.CfnSecurityGroup(this, 'SecurityGroup', {
      groupDescription: 'autoheal observers: probe the instances, call AWS APIs over HTTPS',
      vpcId,
      // Only what an observer does: the probed port, and HTTPS to the APIs (NAT or endpoints).
      securityGroupEgress: [
        { ipProtocol: 'tcp', fromPort: port, toPort: port, cidrIp: '0.0.0.0/0', description: 'probe the instances' },
        ...(port === 443 ? [] : [{ ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIp: '0.0.0.0/0', description: 'SNS, Auto Scaling, EC2 APIs' }]),
      ],
    });
    this.securityGroupId = group.attrGroupId;
    if (props.instanceSecurityGroupId) {
      new ec2.CfnSecurityGroupIngress(this, 'InstanceIngress', {
        groupId: props.instanceSecurityGroupId,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        sourceSecurityGroupId: group.attrGroupId,
        description: 'autoheal observers probe the instances',
      });
    }

    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logs.RetentionDays.TWO_WEEKS, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'autoheal observers: discover the groups, publish verdicts to the alert topic',
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    // Describe calls of Auto Scaling and EC2 support no resource-level permissions.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'DiscoverInstances', actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'], resources: ['*'] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PublishVerdicts', actions: ['sns:Publish'], resources: [props.alertTopic.topicArn] }));
    // What AWSLambdaVPCAccessExecutionRole grants, spelled out: the function's network interfaces.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }),
    );

    const code = lambda.Code.fromAsset(props.bundleDir, { exclude: ['*', '!observer.mjs'] });
    for (const subnet of props.subnets) {
      const name = observerName(subnet.availabilityZone);
      const zoneId = subnet.availabilityZone.replace(/[^A-Za-z0-9]/g, '');
      const fn = new lambda.Function(this, `Observer${zoneId}`, {
        description: `autoheal observer in ${subnet.availabilityZone}: probes the instances, publishes verdicts`,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        handler: 'observer.handler',
        code,
        role,
        logGroup,
        // A run probes 55 s; the deadline leaves it time to stop and flush, and ends before the next minute's run.
        timeout: Duration.seconds(60),
        memorySize: props.memorySize ?? observerDefaults.memorySize,
        reservedConcurrentExecutions: 1,
        // A throttled or failed run is not retried: the next minute's run replaces it.
        retryAttempts: 0,
        maxEventAge: Duration.seconds(60),
        environment: {
          [observerEnv.name]: name,
          [observerEnv.groups]: props.groupNames.join(','),
          [observerEnv.port]: String(port),
          [observerEnv.check]: props.check ?? observerDefaults.check,
          [observerEnv.path]: props.path ?? observerDefaults.path,
          [observerEnv.topicArn]: props.alertTopic.topicArn,
          [observerEnv.intervalMs]: String(props.interval?.toMilliseconds() ?? observerDefaults.intervalMs),
          [observerEnv.timeoutMs]: String(props.timeout?.toMilliseconds() ?? observerDefaults.timeoutMs),
          [observerEnv.unhealthyThreshold]: String(props.unhealthyThreshold ?? observerDefaults.unhealthyThreshold),
          [observerEnv.runForMs]: '55000',
        },
      });
      // VPC-attached through the L1 properties: the L2 wants an IVpc, which needs a lookup (credentials) at synth.
      (fn.node.defaultChild as lambda.CfnFunction).vpcConfig = { subnetIds: [subnet.subnetId], securityGroupIds: [group.attrGroupId] };
      new events.Rule(this, `Schedule${zoneId}`, {
        description: `autoheal: start the observer in ${subnet.availabilityZone} every minute`,
        schedule: events.Schedule.rate(Duration.minutes(1)),
        targets: [new targets.LambdaFunction(fn, { retryAttempts: 0, maxEventAge: Duration.seconds(60) })],
      });
      const alarm = new cloudwatch.Alarm(this, `Heartbeat${zoneId}`, {
        alarmName: `autoheal-observer-silent-${stack.stackName}-${subnet.availabilityZone}`,
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
      alarm.addAlarmAction(new actions.SnsAction(props.alertTopic));
      alarm.addOkAction(new actions.SnsAction(props.alertTopic));
      this.functions.push(fn);
      this.heartbeatAlarms.push(alarm);
    }
    new CfnOutput(this, 'ObserverSecurityGroupId', {
      value: group.attrGroupId,
      description: `Allow this security group on the instances' port ${port}/tcp (the observers probe from it)`,
    });
  }

  /** The VPC of a subnet, read at deploy time (no credentials or network at synth). */
  private vpcOf(subnet: ObserverSubnet): string {
    const lookup = new cr.AwsCustomResource(this, 'SubnetVpc', {
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
}
