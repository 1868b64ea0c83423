/**
 * An observer's own role: one per observer, never shared, so the verdict channel's proof of the
 * sender (the SQS SenderId, `AROA…:session`, the role's unique id) names exactly one observer, and
 * the healer counts a vote for the observer that sent it, not for the name in its body.
 *
 * What it may do, and nothing else: write its log group, discover the groups' instances, send its
 * verdicts to the channel, hold its own lease in the ledger table (so its runs never overlap
 * without reserved concurrency), and manage its network interfaces in the VPC.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { grantLease } from './ledger-table.js';

export interface ObserverRoleInput {
  /** The observer's name (what the healer counts, and its lease's key). */
  readonly name: string;
  readonly logGroup: logs.ILogGroup;
  /** The verdict channel. */
  readonly verdictQueue: sqs.IQueue;
  /** The ledger table that holds its lease. */
  readonly ledgerTable: dynamodb.ITable;
}

/** Creates `${id}` (the role) in `scope`. */
export function observerRole(scope: Construct, id: string, { name, logGroup, verdictQueue, ledgerTable }: ObserverRoleInput): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `autoheal observer ${name}: discovers the groups, sends its verdicts to the verdict channel`,
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
  // Describe calls of Auto Scaling and EC2 support no resource-level permissions.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'DiscoverInstances', actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'], resources: ['*'] }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SendVerdicts', actions: ['sqs:SendMessage'], resources: [verdictQueue.queueArn] }));
  grantLease(role, ledgerTable, name);
  // What AWSLambdaVPCAccessExecutionRole grants, spelled out: the function's network interfaces.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VpcNetworkInterfaces',
      actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: ['*'],
    }),
  );
  return role;
}
