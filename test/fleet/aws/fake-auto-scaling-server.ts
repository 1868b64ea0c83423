/**
 * A tiny local stand-in for the EC2 Auto Scaling query API (and CloudWatch DescribeAlarms), for
 * tests and benchmarks that run the real SDK in another process through AWS_ENDPOINT_URL.
 * It answers DescribeAutoScalingInstances, DescribeAutoScalingGroups and SetInstanceHealth from
 * in-memory groups (one, or many for load tests), with EC2 DescribeInstances answering each instance's
 * launch time and tags, and records every action it was asked for. Binds 127.0.0.1 on port 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeInstancesXml } from '../../helpers/query-stand-in.js';

export interface FakeGroup {
  name: string;
  desiredCapacity: number;
  healthCheckGracePeriodSeconds?: number;
  tags: Record<string, string>;
  instances: Array<{ instanceId: string; lifecycleState?: string; healthStatus?: 'Healthy' | 'Unhealthy'; launchedAt?: string; tags?: Record<string, string> }>;
}

export interface FakeAutoScaling {
  /** `http://127.0.0.1:<port>`, for AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_AUTO_SCALING. */
  url: string;
  /** Every request: the query's Action (or the JSON target for CloudWatch) and its parameters. */
  requests: Array<{ action: string; params: Record<string, string> }>;
  close(): Promise<void>;
}

const ns = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const respond = (action: string, result: string): string =>
  `<${action}Response xmlns="${ns}">${result ? `<${action}Result>${result}</${action}Result>` : ''}` +
  `<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></${action}Response>`;

export interface FakeOptions {
  /** What DescribeAlarms reports for any alarm; default ALARM. */
  alarmState?: string;
  /** Whether SetInstanceHealth changes the instance's health (default true; false lets runs repeat). */
  applyHealth?: boolean;
  /** Query actions that answer with this error instead (e.g. SetInstanceHealth: ValidationError, status 400). */
  fail?: Record<string, { code: string; message: string; status?: number }>;
}

/** Starts the fake with one group, or several (each instance in one of them). */
export async function startFakeAutoScaling(groups: FakeGroup | readonly FakeGroup[], options: FakeOptions = {}): Promise<FakeAutoScaling> {
  const { alarmState = 'ALARM', applyHealth = true, fail = {} } = options;
  const requests: FakeAutoScaling['requests'] = [];
  const all: readonly FakeGroup[] = Array.isArray(groups) ? groups : [groups as FakeGroup];
  const byName = new Map(all.map((g) => [g.name, g]));
  const instanceGroup = new Map(all.flatMap((g) => g.instances.map((i) => [i.instanceId, { group: g, instance: i }] as const)));
  const health = new Map(all.flatMap((g) => g.instances.map((i) => [i.instanceId, i.healthStatus ?? 'Healthy'] as const)));

  const groupXml = (group: FakeGroup): string => {
    const tags = Object.entries(group.tags)
      .map(([k, v]) => `<member><Key>${esc(k)}</Key><Value>${esc(v)}</Value></member>`)
      .join('');
    const instances = group.instances
      .map(
        (i) =>
          `<member><InstanceId>${esc(i.instanceId)}</InstanceId><AvailabilityZone>us-east-1a</AvailabilityZone>` +
          `<LifecycleState>${i.lifecycleState ?? 'InService'}</LifecycleState><HealthStatus>${health.get(i.instanceId) ?? 'Healthy'}</HealthStatus>` +
          `<ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`,
      )
      .join('');
    return (
      `<member><AutoScalingGroupName>${esc(group.name)}</AutoScalingGroupName><MinSize>0</MinSize><MaxSize>100</MaxSize>` +
      `<DesiredCapacity>${group.desiredCapacity}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown>` +
      `<HealthCheckType>EC2</HealthCheckType><HealthCheckGracePeriod>${group.healthCheckGracePeriodSeconds ?? 0}</HealthCheckGracePeriod>` +
      `<CreatedTime>2024-01-01T00:00:00Z</CreatedTime><Tags>${tags}</Tags><Instances>${instances}</Instances></member>`
    );
  };

  const answer = (action: string, params: Record<string, string>): string => {
    const ids = Object.entries(params)
      .filter(([k]) => k.startsWith('InstanceIds.member.'))
      .map(([, v]) => v);
    switch (action) {
      case 'DescribeAutoScalingInstances': {
        const members = ids
          .flatMap((id) => {
            const found = instanceGroup.get(id);
            return found ? [{ ...found.instance, group: found.group }] : [];
          })
          .map(
            ({ group, ...i }) =>
              `<member><InstanceId>${esc(i.instanceId)}</InstanceId><AutoScalingGroupName>${esc(group.name)}</AutoScalingGroupName>` +
              `<AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>${i.lifecycleState ?? 'InService'}</LifecycleState>` +
              `<HealthStatus>${(health.get(i.instanceId) ?? 'Healthy').toUpperCase()}</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`,
          )
          .join('');
        return respond(action, `<AutoScalingInstances>${members}</AutoScalingInstances>`);
      }
      case 'DescribeAutoScalingGroups': {
        const names = Object.entries(params)
          .filter(([k]) => k.startsWith('AutoScalingGroupNames.member.'))
          .map(([, v]) => v);
        const member = names.flatMap((name) => {
          const group = byName.get(name);
          return group ? [groupXml(group)] : [];
        });
        return respond(action, `<AutoScalingGroups>${member.join('')}</AutoScalingGroups>`);
      }
      case 'DescribeInstances': {
        const wanted = Object.entries(params)
          .filter(([k]) => k.startsWith('InstanceId.'))
          .map(([, v]) => v);
        const known = wanted.flatMap((id) => {
          const found = instanceGroup.get(id);
          return found ? [found.instance] : [];
        });
        return describeInstancesXml(known.map((i) => ({ instanceId: i.instanceId, launchTime: i.launchedAt ?? '2024-01-01T00:00:00.000Z', tags: i.tags ?? {} })));
      }
      case 'SetInstanceHealth':
        if (applyHealth && params.InstanceId) health.set(params.InstanceId, params.HealthStatus === 'Unhealthy' ? 'Unhealthy' : 'Healthy');
        return respond(action, '');
      default:
        return '';
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string' && target.endsWith('DescribeAlarms')) {
        const input = JSON.parse(body || '{}') as { AlarmNames?: string[] };
        requests.push({ action: 'DescribeAlarms', params: { AlarmName: input.AlarmNames?.[0] ?? '' } });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ MetricAlarms: (input.AlarmNames ?? []).map((AlarmName) => ({ AlarmName, StateValue: alarmState })) }));
        return;
      }
      const params = Object.fromEntries(new URLSearchParams(body));
      const action = params.Action ?? '';
      requests.push({ action, params });
      const failure = fail[action];
      if (failure) {
        res.writeHead(failure.status ?? 400, { 'content-type': 'text/xml' });
        res.end(
          `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>${esc(failure.code)}</Code>` +
            `<Message>${esc(failure.message)}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
        );
        return;
      }
      const xml = answer(action, params);
      res.writeHead(xml ? 200 : 400, { 'content-type': 'text/xml' });
      res.end(xml || respond('Error', ''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
