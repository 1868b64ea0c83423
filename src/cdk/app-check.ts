/**
 * Detection `app-checks`: AWS's application status check as one more observer, `aws-app-check`,
 * under every rail. What it creates:
 *
 * - an EC2 application status check (AWS::EC2::ApplicationStatusCheck) probing HTTP on the port
 *   and path the observers probe (`probe.port`, `probe.path`), with aggregation `excluded`: its
 *   result never counts toward the instance-level status, so Auto Scaling never replaces an
 *   instance on it alone. Only the healer acts on it, and only within the rails;
 * - its association with the named groups' instances by the tag every instance of a group
 *   carries, `aws:autoscaling:groupName` (current and future instances). A custom resource calls
 *   AssociateApplicationStatusCheck (DisassociateApplicationStatusCheck on delete): CloudFormation
 *   names AWS::EC2::ApplicationStatusCheckTagAssociation, but neither aws-cdk-lib 2.276 nor
 *   cfn-lint's resource specs define it, so its properties cannot be checked before a deploy;
 * - the reader (dist/app-check.mjs, src/app-check/handler.ts), a function of its own started every
 *   minute, which reads the check every 10 s and sends its verdicts to the verdict channel. Not
 *   VPC-attached: it calls only AWS APIs.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { autohealEnv } from '../config.js';
import { groupNameTag } from '../app-check/association.js';
import { appCheckEnv } from '../app-check/settings.js';
import { grantLease } from './ledger-table.js';

/** The bundle the reader runs, in the bundle folder. */
export const appCheckBundle = 'app-check.mjs';

/** What the check probes, and how it judges (the observers' port and path; EC2's documented defaults spelled out). */
export interface AppCheckTarget {
  port: number;
  path: string;
}

/** How the check judges: EC2's documented defaults, written out so the template says what it does. */
export const appCheckProbe = { intervalSeconds: 60, timeoutSeconds: 6, failureThreshold: 2, successThreshold: 2, statusCodes: '200' } as const;

export interface AppCheckInput {
  readonly target: AppCheckTarget;
  readonly groupNames: readonly string[];
  readonly verdictQueue: sqs.IQueue;
  readonly ledgerTable: dynamodb.ITable;
  readonly bundleDir: string;
}

export interface AppCheckDetection {
  readonly check: ec2.CfnApplicationStatusCheck;
  readonly reader: lambda.Function;
  /** The reader's role: one of the verdict channel's senders. */
  readonly role: iam.Role;
}

export function appCheckDetection(scope: Construct, input: AppCheckInput): AppCheckDetection {
  const stackName = Stack.of(scope).stackName;
  const check = new ec2.CfnApplicationStatusCheck(scope, 'AppStatusCheck', {
    protocol: 'http',
    port: input.target.port,
    path: input.target.path,
    // Excluded: Auto Scaling never acts on it alone; the healer counts it as one vote.
    aggregation: 'excluded',
    interval: appCheckProbe.intervalSeconds,
    timeout: appCheckProbe.timeoutSeconds,
    failureThreshold: appCheckProbe.failureThreshold,
    successThreshold: appCheckProbe.successThreshold,
    statusCodeMatcher: appCheckProbe.statusCodes,
    tags: [{ key: 'autoheal:stack', value: stackName }],
  });
  association(scope, check, input.groupNames);
  const { reader, role } = readerFunction(scope, input, check);
  // Its alarms (every read of a run failed; no run at all) are the stack's own: ./monitoring.ts.
  return { check, reader, role };
}

/** The check's association with the groups' instances, by their group-name tag. */
function association(scope: Construct, check: ec2.CfnApplicationStatusCheck, groupNames: readonly string[]): void {
  const parameters = {
    ApplicationStatusCheckId: check.attrApplicationStatusCheckId,
    TargetTagAssociations: groupNames.map((g) => ({ Key: groupNameTag, Value: g })),
  };
  // A change of groups replaces the resource: the new set is associated, then the old one disassociated.
  const id = cr.PhysicalResourceId.of(`app-check-association:${groupNames.join(',')}`);
  new cr.AwsCustomResource(scope, 'AppStatusCheckAssociation', {
    onCreate: { service: 'EC2', action: 'associateApplicationStatusCheck', parameters, physicalResourceId: id },
    onDelete: { service: 'EC2', action: 'disassociateApplicationStatusCheck', parameters, ignoreErrorCodesMatching: 'NotFound' },
    policy: cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({
        actions: ['ec2:AssociateApplicationStatusCheck', 'ec2:DisassociateApplicationStatusCheck'],
        resources: [check.attrArn],
      }),
    ]),
    // The runtime's SDK makes the call; installing the latest at deploy time needs the registry from the function.
    installLatestAwsSdk: false,
  });
}

/** The reader: its log group, role, function and schedule. */
function readerFunction(scope: Construct, input: AppCheckInput, check: ec2.CfnApplicationStatusCheck): { reader: lambda.Function; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, 'AppCheckLogGroup', { retention: logs.RetentionDays.TWO_WEEKS, removalPolicy: RemovalPolicy.DESTROY });
  const role = new iam.Role(scope, 'AppCheckRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'autoheal aws-app-check: read the application status check, send verdicts to the verdict channel',
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
  // Describe calls of Auto Scaling and EC2 support no resource-level permissions.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'ReadCheck', actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeApplicationStatus'], resources: ['*'] }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SendVerdicts', actions: ['sqs:SendMessage'], resources: [input.verdictQueue.queueArn] }));
  grantLease(role, input.ledgerTable);
  const reader = new lambda.Function(scope, 'AppCheckReader', {
    description: 'autoheal aws-app-check: reads the EC2 application status check every 10 s, sends its verdicts',
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'app-check.handler',
    code: lambda.Code.fromAsset(input.bundleDir, { exclude: ['*', `!${appCheckBundle}`] }),
    role,
    logGroup,
    // A run reads for 55 s; the deadline ends it before the next minute's run.
    timeout: Duration.seconds(60),
    memorySize: 128,
    // A failed run is not retried: the next minute's run replaces it.
    retryAttempts: 0,
    maxEventAge: Duration.seconds(60),
    environment: {
      [appCheckEnv.checkId]: check.attrApplicationStatusCheckId,
      [appCheckEnv.groups]: input.groupNames.join(','),
      [appCheckEnv.verdictQueueUrl]: input.verdictQueue.queueUrl,
      [autohealEnv.ledgerTable]: input.ledgerTable.tableName,
    },
  });
  new events.Rule(scope, 'AppCheckSchedule', {
    description: 'autoheal: start the aws-app-check reader every minute',
    schedule: events.Schedule.rate(Duration.minutes(1)),
    targets: [new targets.LambdaFunction(reader, { retryAttempts: 0, maxEventAge: Duration.seconds(60) })],
  });
  return { reader, role };
}
