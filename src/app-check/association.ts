/**
 * The check's association with the groups' instances when the Terraform module deploys it: the
 * module invokes the reader at create, update and destroy (aws_lambda_invocation, lifecycle CRUD,
 * `tf.action`), and the reader associates the check with each named group's instances by the tag
 * `aws:autoscaling:groupName`, or disassociates the groups no longer named. (The construct does the
 * same with a custom resource, src/cdk/app-check.ts.) Refusals fail a create or an update, naming
 * the tag and EC2's reason; at destroy they are reported, so a group already gone never blocks it.
 */
import { applicationStatusCheckTags, type CheckTag } from '../aws/ec2.js';
import type { SigningClient } from '../aws/query.js';
import { ConfigError } from '../errors.js';

/** The tag Auto Scaling puts on every instance of a group (the construct's association uses the same). */
export const groupNameTag = 'aws:autoscaling:groupName';

/** The module's invocation: the groups, and Terraform's own `tf` key. */
export interface AssociationEvent {
  associate: { groups: string[] };
  tf?: { action?: string; prev_input?: { associate?: { groups?: string[] } } };
}

export function isAssociationEvent(event: unknown): event is AssociationEvent {
  if (typeof event !== 'object' || event === null) return false;
  const associate = (event as { associate?: unknown }).associate;
  return typeof associate === 'object' && associate !== null && Array.isArray((associate as { groups?: unknown }).groups);
}

/** Which tags to associate and which to disassociate for Terraform's `action`. */
export function associationPlan(event: AssociationEvent): { associate: CheckTag[]; disassociate: CheckTag[] } {
  const tags = (groups: readonly string[]): CheckTag[] => [...new Set(groups)].map((value) => ({ key: groupNameTag, value }));
  const now = event.associate.groups.filter((g) => typeof g === 'string' && g !== '');
  if (event.tf?.action === 'delete') return { associate: [], disassociate: tags(now) };
  const before = event.tf?.prev_input?.associate?.groups ?? [];
  return { associate: tags(now), disassociate: tags(before.filter((g) => !now.includes(g))) };
}

/** What the association did. */
export interface AssociationOutcome {
  action: string;
  associated: string[];
  disassociated: string[];
  /** Refusals at destroy, reported instead of failing it. */
  refused: Array<{ target: string; reason: string }>;
}

export async function applyAssociation(client: SigningClient, checkId: string, event: AssociationEvent, signal?: AbortSignal): Promise<AssociationOutcome> {
  const plan = associationPlan(event);
  const action = event.tf?.action ?? 'create';
  const added = await applicationStatusCheckTags(client, 'associate', checkId, plan.associate, signal);
  if (added.refused.length > 0) {
    throw new ConfigError(`app-check: EC2 refused to associate ${checkId} with ${added.refused.map((r) => `${r.target} (${r.reason})`).join(', ')}`);
  }
  const removed = await applicationStatusCheckTags(client, 'disassociate', checkId, plan.disassociate, signal);
  if (removed.refused.length > 0 && action !== 'delete') {
    throw new ConfigError(`app-check: EC2 refused to disassociate ${checkId} from ${removed.refused.map((r) => `${r.target} (${r.reason})`).join(', ')}`);
  }
  return { action, associated: added.associated, disassociated: removed.associated, refused: removed.refused };
}
