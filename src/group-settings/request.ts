/**
 * What the group settings function is asked, from either deployer, as one request:
 *
 * - CloudFormation, through the CDK custom-resource `Provider` (aws-cdk-lib/custom-resources): an
 *   onEvent event `{ RequestType: Create|Update|Delete, ResourceProperties, OldResourceProperties,
 *   PhysicalResourceId }`; the framework answers CloudFormation with what the handler returns or throws.
 * - Terraform, through `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`: the input itself,
 *   with a `tf` key added `{ action: create|update|delete, prev_input }`.
 *
 * The settings of one group: `GroupName`, `Owner` (the stack's or module's name: its record on the
 * group is its own), `Replacement` and `RetainOnAbandon`. CloudFormation hands every property over
 * as a string, so `"true"`/`"false"` count as booleans. Anything else is refused with its place.
 */
import { replacementModes, type ReplacementMode } from '../fleet/replacement.js';

/** The settings the deployment asks of one group. */
export interface GroupSettings {
  groupName: string;
  owner: string;
  replacement: ReplacementMode;
  retainOnAbandon: boolean;
}

export type RequestAction = 'create' | 'update' | 'delete';

/** One request, from either deployer. */
export interface SettingsRequest {
  action: RequestAction;
  settings: GroupSettings;
  /** What was asked before an update (a different group is released first). */
  previous?: GroupSettings;
  /** CloudFormation's id of the resource, on Update and Delete. */
  physicalId?: string;
  deployer: 'cloudformation' | 'terraform';
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The settings in `props` (named `where` in errors); throws an Error naming the first wrong field. */
export function settingsOf(props: unknown, where: string): GroupSettings {
  if (!isRecord(props)) throw new Error(`${where}: expected an object with GroupName, Owner, Replacement, RetainOnAbandon`);
  const text = (key: string): string => {
    const v = props[key];
    if (typeof v !== 'string' || v.trim() === '') throw new Error(`${where}.${key}: expected a non-empty string, got ${JSON.stringify(v)}`);
    return v.trim();
  };
  const replacement = replacementModes.find((m) => m === (props.Replacement ?? 'unchanged'));
  if (replacement === undefined) throw new Error(`${where}.Replacement: expected ${replacementModes.join(' or ')}, got ${JSON.stringify(props.Replacement)}`);
  const retain = props.RetainOnAbandon ?? false;
  if (![true, false, 'true', 'false'].includes(retain as boolean | string)) throw new Error(`${where}.RetainOnAbandon: expected true or false, got ${JSON.stringify(retain)}`);
  return { groupName: text('GroupName'), owner: text('Owner'), replacement, retainOnAbandon: retain === true || retain === 'true' };
}

const cfnActions: Record<string, RequestAction> = { Create: 'create', Update: 'update', Delete: 'delete' };
const tfActions: readonly string[] = ['create', 'update', 'delete'];

/** The request in a CloudFormation onEvent event or a Terraform CRUD input; throws an Error naming what is wrong. */
export function parseRequest(event: unknown): SettingsRequest {
  if (!isRecord(event)) throw new Error('group settings: expected a CloudFormation custom resource event or a Terraform input object');
  if (typeof event.RequestType === 'string') {
    const action = cfnActions[event.RequestType];
    if (action === undefined) throw new Error(`RequestType: expected Create, Update or Delete, got ${JSON.stringify(event.RequestType)}`);
    return {
      action,
      settings: settingsOf(event.ResourceProperties, 'ResourceProperties'),
      ...(action === 'update' && event.OldResourceProperties !== undefined ? { previous: settingsOf(event.OldResourceProperties, 'OldResourceProperties') } : {}),
      ...(typeof event.PhysicalResourceId === 'string' ? { physicalId: event.PhysicalResourceId } : {}),
      deployer: 'cloudformation',
    };
  }
  const tf = event.tf;
  if (!isRecord(tf) || typeof tf.action !== 'string' || !tfActions.includes(tf.action)) {
    throw new Error('tf.action: expected create, update or delete (aws_lambda_invocation with lifecycle_scope = "CRUD" adds it)');
  }
  const action = tf.action as RequestAction;
  return {
    action,
    settings: settingsOf(event, 'input'),
    ...(action === 'update' && isRecord(tf.prev_input) ? { previous: settingsOf(tf.prev_input, 'tf.prev_input') } : {}),
    deployer: 'terraform',
  };
}

/** The resource's id: one per owner and group, so a change of group is a new resource (CloudFormation then deletes the old). */
export function physicalIdOf(s: GroupSettings): string {
  return `autoheal-group-settings:${s.owner}:${s.groupName}`;
}
