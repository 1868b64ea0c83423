/**
 * A stand-in in front of moto for what moto does not keep (DESIGN.md: it stores no instance
 * maintenance or lifecycle policy): it records the two policies UpdateAutoScalingGroup sends,
 * as Auto Scaling keeps them (-1 clears a maintenance policy), and adds them to the groups
 * DescribeAutoScalingGroups answers. Every request goes on to moto unchanged, so a group that does
 * not exist, the group's tags and everything else are moto's.
 */
import { startMotoFront } from '../helpers/moto-front.js';

export interface StoredPolicies {
  min?: number;
  max?: number;
  abandon?: string;
}

export interface PolicyStandIn {
  url: string;
  /** The policies per group, as the stand-in keeps them (a test may set one, as a person would). */
  policies: Map<string, StoredPolicies>;
  /** Every UpdateAutoScalingGroup the stand-in saw, as its form. */
  updates: URLSearchParams[];
  stop(): Promise<void>;
}

function policyXml(p: StoredPolicies): string {
  return (
    (p.min !== undefined && p.max !== undefined
      ? `<InstanceMaintenancePolicy><MinHealthyPercentage>${p.min}</MinHealthyPercentage><MaxHealthyPercentage>${p.max}</MaxHealthyPercentage></InstanceMaintenancePolicy>`
      : '') + (p.abandon ? `<InstanceLifecyclePolicy><RetentionTriggers><TerminateHookAbandon>${p.abandon}</TerminateHookAbandon></RetentionTriggers></InstanceLifecyclePolicy>` : '')
  );
}

export async function startPolicyStandIn(motoEndpoint: string): Promise<PolicyStandIn> {
  const policies = new Map<string, StoredPolicies>();
  const updates: URLSearchParams[] = [];
  const front = await startMotoFront(motoEndpoint, async (request, forward) => {
    const form = new URLSearchParams(request.body.toString());
    const action = form.get('Action');
    const name = form.get('AutoScalingGroupName');
    const answer = await forward();
    if (action === 'UpdateAutoScalingGroup' && name && answer.status >= 200 && answer.status < 300) {
      updates.push(form);
      const p = { ...policies.get(name) };
      const min = form.get('InstanceMaintenancePolicy.MinHealthyPercentage');
      const max = form.get('InstanceMaintenancePolicy.MaxHealthyPercentage');
      if (min !== null && max !== null) {
        if (Number(min) < 0) {
          delete p.min;
          delete p.max;
        } else Object.assign(p, { min: Number(min), max: Number(max) });
      }
      const abandon = form.get('InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon');
      if (abandon !== null) p.abandon = abandon;
      policies.set(name, p);
    }
    if (action !== 'DescribeAutoScalingGroups') return answer;
    let text = answer.body.toString();
    for (const [group, p] of policies) {
      const at = `<AutoScalingGroupName>${group}</AutoScalingGroupName>`;
      text = text.replace(at, `${at}${policyXml(p)}`);
    }
    return { ...answer, body: Buffer.from(text) };
  });
  return { url: front.url, policies, updates, stop: front.close };
}
