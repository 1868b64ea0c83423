/**
 * A small Lambda function whose code is inline (./cleanup-handler.ts), with a log group and a role
 * of its own: the alarm clean-up, the deploy-time sync trigger and the legacy queue's intake are
 * each one. Its role may write its own log group and do what `statements` grant, nothing else.
 */
import { RemovalPolicy, type Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface InlineFunctionProps {
  readonly description: string;
  /** CommonJS source exporting `handler`. */
  readonly source: string;
  readonly timeout: Duration;
  /** How long its log group keeps what it wrote. */
  readonly logRetention: logs.RetentionDays;
  /** Granted after WriteOwnLogs, in this order. */
  readonly statements: readonly iam.PolicyStatement[];
  readonly environment?: Record<string, string>;
}

/** Creates `${id}LogGroup`, `${id}Role` and the function `${id}` in `scope`. */
export function inlineFunction(scope: Construct, id: string, props: InlineFunctionProps): { fn: lambda.Function; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
  const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
  );
  for (const statement of props.statements) role.addToPrincipalPolicy(statement);
  const fn = new lambda.Function(scope, id, {
    description: props.description,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: lambda.Code.fromInline(props.source),
    role,
    logGroup,
    timeout: props.timeout,
    ...(props.environment ? { environment: props.environment } : {}),
  });
  return { fn, role };
}
