/**
 * Applies a deployment's settings to a group it does not own (a named group is an existing
 * group), and on delete takes back what it set, and only that.
 *
 * Two settings, each written by UpdateAutoScalingGroup only when asked:
 *
 * - `maintenance`: the instance maintenance policy, for `replacement: launch-before-terminate`
 *   (src/fleet/replacement.ts: minimum healthy 100 %, maximum 110 %);
 * - `abandon`: the instance lifecycle policy's trigger `TerminateHookAbandon: retain`, for
 *   `retainOnAbandon` (quarantine `retain` keeps an instance whose termination hook it abandons).
 *
 * What the group had before is kept on the group itself, in its tag `autoheal:before:<owner>`
 * (`maintenance=none abandon=terminate`), written before the change: a retry, a crash between the
 * two calls or a second deploy never takes autoheal's own value for the group's. Neither
 * CloudFormation's Delete nor Terraform's delete carries what the create answered, so the group is
 * the one place both deployers read back. When a setting is released (delete, or no longer asked),
 * the group gets its old value back only when it still has autoheal's: a policy someone changed
 * since is theirs, left alone, and the log says so.
 */
import { createOrUpdateTags, deleteTags, describeAutoScalingGroups, updateGroupPolicies, type AutoScalingClient, type Group, type GroupPolicies } from '../aws/autoscaling.js';
import { launchFirstPolicy } from '../fleet/replacement.js';
import type { Logger } from '../log.js';
import { physicalIdOf, type GroupSettings, type SettingsRequest } from './request.js';

/** The settings this function writes. */
const settingNames = ['maintenance', 'abandon'] as const;
type SettingName = (typeof settingNames)[number];
/** A setting's value as the record keeps it: `none`, `100/110` for a maintenance policy, `retain`/`terminate`. */
type Values = Partial<Record<SettingName, string>>;

/** The tag that keeps what the group had before `owner` changed it (tag keys are at most 128 characters). */
export function beforeTagKey(owner: string): string {
  return `autoheal:before:${owner}`.slice(0, 128);
}

/** `maintenance=none abandon=terminate`, and back; unknown parts are dropped. */
export function recordText(values: Values): string {
  return settingNames.flatMap((n) => (values[n] !== undefined ? [`${n}=${values[n]}`] : [])).join(' ');
}
export function parseRecord(text: string | undefined): Values {
  const values: Values = {};
  for (const part of (text ?? '').split(' ')) {
    const [name, value] = part.split('=');
    if ((settingNames as readonly string[]).includes(name ?? '') && value) values[name as SettingName] = value;
  }
  return values;
}

/** What the group has now, as the record writes it. */
function currentOf(g: Group): Required<Values> {
  const p = g.maintenancePolicy;
  const set = (n: number | undefined): boolean => n !== undefined && n >= 0;
  return {
    maintenance: p && set(p.minHealthyPercentage) && set(p.maxHealthyPercentage) ? `${p.minHealthyPercentage}/${p.maxHealthyPercentage}` : 'none',
    abandon: g.terminateHookAbandon ?? 'none',
  };
}

/** What the deployment asks of the group. */
function wantedOf(s: GroupSettings | undefined): Values {
  return {
    ...(s?.replacement === 'launch-before-terminate' ? { maintenance: `${launchFirstPolicy.minHealthyPercentage}/${launchFirstPolicy.maxHealthyPercentage}` } : {}),
    ...(s?.retainOnAbandon ? { abandon: 'retain' } : {}),
  };
}

/** The value autoheal writes for each setting: what "it still has autoheal's" compares with. */
const ours: Required<Values> = { maintenance: `${launchFirstPolicy.minHealthyPercentage}/${launchFirstPolicy.maxHealthyPercentage}`, abandon: 'retain' };

/** The UpdateAutoScalingGroup fields that write these values (`none` clears a maintenance policy with -1; no abandon trigger is `terminate`). */
function policiesOf(values: Values): GroupPolicies {
  const m = values.maintenance;
  const [min, max] = m === undefined || m === 'none' ? [-1, -1] : m.split('/').map(Number);
  return {
    ...(m !== undefined ? { maintenancePolicy: { minHealthyPercentage: min ?? -1, maxHealthyPercentage: max ?? -1 } } : {}),
    ...(values.abandon !== undefined ? { terminateHookAbandon: values.abandon === 'retain' ? 'retain' : 'terminate' } : {}),
  };
}

/** What one request did to one group. */
export interface GroupOutcome {
  group: string;
  /** Settings written now, with their values. */
  set: Values;
  /** Settings given back their old value. */
  restored: Values;
  /** Settings released but left as the group has them: changed since autoheal set them. */
  leftAlone: Values;
  /** What the group had before autoheal, as its tag keeps it (empty once nothing is held). */
  before: Values;
}

export interface ApplyDeps {
  autoScaling: AutoScalingClient;
  logger: Logger;
  signal?: AbortSignal;
}

async function describeOne(deps: ApplyDeps, groupName: string): Promise<Group | undefined> {
  return (await describeAutoScalingGroups(deps.autoScaling, { names: [groupName] }, deps.signal)).find((g) => g.name === groupName);
}

/**
 * Brings one group to what `settings` asks (undefined: nothing, as on delete). A group that does
 * not exist fails the request, naming it, unless nothing is asked of it (a group deleted before
 * the stack holds nothing to take back).
 */
export async function settleGroup(deps: ApplyDeps, groupName: string, owner: string, settings: GroupSettings | undefined): Promise<GroupOutcome> {
  const { logger } = deps;
  const group = await describeOne(deps, groupName);
  const wanted = wantedOf(settings);
  if (group === undefined) {
    if (Object.keys(wanted).length > 0) {
      throw new Error(`Auto Scaling group "${groupName}" not found: the stack's named groups must exist before their replacement or retention is set (check the name in groups and the region)`);
    }
    logger.info({ group: groupName }, 'group settings: the group is gone, nothing to take back');
    return { group: groupName, set: {}, restored: {}, leftAlone: {}, before: {} };
  }

  const tagKey = beforeTagKey(owner);
  const held = parseRecord(group.tags[tagKey]);
  const current = currentOf(group);
  const before: Values = { ...held };
  const set: Values = {};
  const restored: Values = {};
  const leftAlone: Values = {};
  for (const name of settingNames) {
    const want = wanted[name];
    if (want !== undefined) {
      if (before[name] === undefined) before[name] = current[name];
      if (current[name] !== want) set[name] = want;
    } else if (held[name] !== undefined) {
      if (current[name] === ours[name]) {
        if (held[name] !== current[name]) restored[name] = held[name];
      } else {
        leftAlone[name] = current[name];
        logger.warn(
          { group: groupName, setting: name, now: current[name], autohealSet: ours[name], before: held[name] },
          `group settings: ${name} changed since autoheal set it; left alone (the group keeps ${current[name]})`,
        );
      }
      delete before[name];
    }
  }

  // The record first: what the group had is never lost between the two calls.
  const recorded = recordText(before);
  if (recorded !== '' && recorded !== recordText(held)) await createOrUpdateTags(deps.autoScaling, groupName, { [tagKey]: recorded }, deps.signal);
  const writes = { ...set, ...restored };
  if (Object.keys(writes).length > 0) await updateGroupPolicies(deps.autoScaling, groupName, policiesOf(writes), deps.signal);
  if (recorded === '' && group.tags[tagKey] !== undefined) await deleteTags(deps.autoScaling, groupName, [tagKey], deps.signal);
  logger.info({ group: groupName, set, restored, leftAlone, before }, 'group settings: settled');
  return { group: groupName, set, restored, leftAlone, before };
}

/** What the function answers: CloudFormation's id and attributes (strings), or Terraform's result. */
export interface SettingsResponse {
  PhysicalResourceId: string;
  Data: { GroupName: string; Set: string; Restored: string; LeftAlone: string; Before: string };
}

/** Runs one request: releases a group an update moved away from, then settles the asked group. */
export async function runRequest(deps: ApplyDeps, request: SettingsRequest): Promise<SettingsResponse> {
  const { settings, previous } = request;
  if (previous && (previous.groupName !== settings.groupName || previous.owner !== settings.owner)) {
    await settleGroup(deps, previous.groupName, previous.owner, undefined);
  }
  const outcome = await settleGroup(deps, settings.groupName, settings.owner, request.action === 'delete' ? undefined : settings);
  const physicalId = physicalIdOf(settings);
  return {
    // CloudFormation: the same id on Delete; on Update a new one only when the group changed.
    PhysicalResourceId: request.action === 'delete' && request.physicalId ? request.physicalId : physicalId,
    Data: {
      GroupName: outcome.group,
      Set: recordText(outcome.set),
      Restored: recordText(outcome.restored),
      LeftAlone: recordText(outcome.leftAlone),
      Before: recordText(outcome.before),
    },
  };
}
