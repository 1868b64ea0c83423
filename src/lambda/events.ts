/**
 * The invocations both functions of the stack recognise before any parsing: the EventBridge
 * schedule's event, the Terraform module's `aws_lambda_invocation`, and the Lambda context's
 * deadline. The healer (./handler.ts) and the alarm sync (./alarm-sync.ts) share them.
 */

/** The part of the Lambda context the handlers use. */
export interface LambdaContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
}

/** The `source` of the Terraform module's invocation input. */
export const terraformSource = 'autoheal.terraform';

/** Stop starting new AWS calls this long before the function's timeout, so failures are recorded. */
const timeoutReserveMs = 1_500;

/** Aborts shortly before the invocation's deadline; none without a context (tests, the CLI). */
export function timeoutSignal(context?: LambdaContext): AbortSignal | undefined {
  const remainingMs = context?.getRemainingTimeInMillis?.();
  return remainingMs !== undefined ? AbortSignal.timeout(Math.max(1, remainingMs - timeoutReserveMs)) : undefined;
}

/** An EventBridge schedule rule's event: `source: "aws.events"`, `detail-type: "Scheduled Event"`. */
export function isScheduledEvent(event: unknown): boolean {
  const e = event as { source?: unknown; 'detail-type'?: unknown } | null;
  return typeof e === 'object' && e !== null && e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event';
}

/** The action of the Terraform module's `aws_lambda_invocation` (CRUD), or undefined for any other event. */
export function terraformAction(event: unknown): 'create' | 'update' | 'delete' | undefined {
  const e = event as { source?: unknown; tf?: { action?: unknown } | null } | null;
  if (typeof e !== 'object' || e === null || e.source !== terraformSource) return undefined;
  const action = e.tf?.action;
  return action === 'create' || action === 'update' || action === 'delete' ? action : undefined;
}
