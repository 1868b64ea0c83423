/**
 * A stand-in in front of moto for what moto does not keep (DESIGN.md: it stores no instance
 * maintenance or lifecycle policy): it records the two policies UpdateAutoScalingGroup sends,
 * as Auto Scaling keeps them (-1 clears a maintenance policy), and adds them to the groups
 * DescribeAutoScalingGroups answers. Every request goes on to moto unchanged, so a group that does
 * not exist, the group's tags and everything else are moto's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString());
      const action = form.get('Action');
      const name = form.get('AutoScalingGroupName');
      const headers = Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' && k !== 'host' && k !== 'content-length' ? [[k, v]] : [])));
      void fetch(`${motoEndpoint}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(body.length > 0 ? { body } : {}) }).then(
        async (answer) => {
          let text = await answer.text();
          if (action === 'UpdateAutoScalingGroup' && name && answer.ok) {
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
          if (action === 'DescribeAutoScalingGroups') {
            for (const [group, p] of policies) {
              const at = `<AutoScalingGroupName>${group}</AutoScalingGroupName>`;
              text = text.replace(at, `${at}${policyXml(p)}`);
            }
          }
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/xml' });
          res.end(text);
        },
        (error: Error) => {
          res.writeHead(502);
          res.end(error.message);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    policies,
    updates,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
