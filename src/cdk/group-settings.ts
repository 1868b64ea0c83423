/**
 * The stack's settings on groups it does not own (a named group is an existing group), applied at
 * deploy time by the group settings function (dist/group-settings.mjs, src/group-settings/):
 *
 * - `replacement: 'launch-before-terminate'`: each named group's instance maintenance policy
 *   becomes minimum healthy 100 %, maximum 110 % (src/fleet/replacement.ts), so a marked instance
 *   is terminated only once its replacement is InService; the healer is told (AUTOHEAL_REPLACEMENT)
 *   and says when a group overrides it;
 * - retention on an abandoned termination hook (`TerminateHookAbandon: retain`), for quarantine
 *   `retain`.
 *
 * One custom resource per named group, through the CDK custom-resource Provider (its framework
 * answers CloudFormation). Deleting the stack, or dropping a setting, takes back what was set where
 * the group still has it. IAM: UpdateAutoScalingGroup and the group tag that records what the
 * group had (CreateOrUpdateTags, DeleteTags) on the named groups only; DescribeAutoScalingGroups
 * supports no resource-level permission. No iam:PassRole: the call passes no role, no launch
 * template (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-api-permissions.html).
 */
import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { autohealEnv } from '../config.js';
import type { GroupSettingsResolved } from './group-settings-props.js';
import type { HealerRef } from './healer.js';
import type { Resolved } from './resolve.js';

export interface GroupSettingsInput {
  readonly config: Resolved;
  readonly settings: GroupSettingsResolved;
  readonly healer: HealerRef;
}

/** The function, its provider and one custom resource per named group. */
export function groupSettings(scope: Construct, { config, settings, healer }: GroupSettingsInput): { fn: lambda.Function; resources: CustomResource[] } {
  const owner = Stack.of(scope).stackName;
  if (settings.replacement !== 'unchanged') healer.fn.addEnvironment(autohealEnv.replacement, settings.replacement);

  const logGroup = new logs.LogGroup(scope, 'GroupSettingsLogGroup', { retention: config.healer.logRetention, removalPolicy: config.healer.logRemovalPolicy });
  const role = new iam.Role(scope, 'GroupSettingsRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: "autoheal group settings: sets the named groups' replacement and retention at deploy time, and takes them back",
  });
  const statements = [
    new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    // Describe calls of Auto Scaling support no resource-level permissions.
    new iam.PolicyStatement({ sid: 'ReadGroups', actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] }),
    new iam.PolicyStatement({
      sid: 'SetNamedGroupsPolicies',
      actions: ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags'],
      resources: config.groupArns,
    }),
  ];
  for (const s of statements) role.addToPrincipalPolicy(s);

  const fn = new lambda.Function(scope, 'GroupSettingsFunction', {
    description: "autoheal: sets the named groups' instance maintenance and lifecycle policies at deploy time",
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'group-settings.handler',
    code: lambda.Code.fromAsset(config.bundleDir, { exclude: ['*', '!group-settings.mjs'] }),
    role,
    logGroup,
    timeout: Duration.seconds(60),
    memorySize: 256,
    environment: { [autohealEnv.logLevel]: config.healer.logLevel },
  });
  const provider = new cr.Provider(scope, 'GroupSettingsProvider', { onEventHandler: fn });

  const resources = config.groupNames.map((groupName, i) => {
    const resource = new CustomResource(scope, `GroupSettings${i}`, {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::AutohealGroupSettings',
      properties: { GroupName: groupName, Owner: owner, Replacement: settings.replacement, RetainOnAbandon: String(settings.retainOnAbandon) },
    });
    // The role's policy must outlive the resources: a Delete takes back what was set.
    resource.node.addDependency(role);
    return resource;
  });
  return { fn, resources };
}
