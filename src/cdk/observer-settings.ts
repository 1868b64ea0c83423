/**
 * The observers' settings (the construct's `probe` prop with `subnets`), their defaults and their
 * rules: what {@link Observers} (./observers.ts) is built from, checked before anything is built.
 */
import type { Duration } from 'aws-cdk-lib';
import { isTargetPort, targetPortRange } from '../prober/options.js';

/** A subnet an observer runs in. */
export interface ObserverSubnet {
  readonly subnetId: string;
  readonly availabilityZone: string;
}

/** The observers' settings (the construct's `probe` prop). */
export interface ObserversSettings {
  /** One observer per subnet; at least two, in at least two Availability Zones. */
  readonly subnets: readonly ObserverSubnet[];
  /** The VPC of the subnets. @default - looked up from the first subnet at deploy time (ec2:DescribeSubnets) */
  readonly vpcId?: string;
  /** The instances' port that is probed. @default 80 */
  readonly port?: number;
  /** `http` (GET `path`, expect 200) or `tcp` (a connection is accepted). @default 'http' */
  readonly check?: 'http' | 'tcp';
  /** The HTTP check's path. @default '/health' */
  readonly path?: string;
  /** Probe interval. @default Duration.seconds(2) */
  readonly interval?: Duration;
  /** A probe not answered within this failed. @default Duration.seconds(1) */
  readonly timeout?: Duration;
  /** Consecutive failed probes that make an observer's verdict unhealthy. @default 2 */
  readonly unhealthyThreshold?: number;
  /**
   * The instances' security group: the construct adds the ingress rule from the observers on
   * `port`. @default - none: allow the output ObserverSecurityGroupId on the port yourself
   */
  readonly instanceSecurityGroupId?: string;
  /** Memory of each observer function (CPU scales with it; the self-check needs a timely loop). @default 256 */
  readonly memorySize?: number;
}

/** Defaults, documented on {@link ObserversSettings}. */
export const observerDefaults = { port: 80, check: 'http', path: '/health', intervalMs: 2_000, timeoutMs: 1_000, unhealthyThreshold: 2, memorySize: 256 } as const;

const subnetIdPattern = /^subnet-[0-9a-f]{1,17}$/;
const azPattern = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

/** The problems of the settings, each naming the prop (empty when they are fine). */
export function observersProblems(s: ObserversSettings, groupNames: readonly string[]): string[] {
  const problems: string[] = [];
  if (s.subnets.length < 2) problems.push(`probe.subnets: give at least two subnets in different Availability Zones (got ${s.subnets.length})`);
  for (const [i, subnet] of s.subnets.entries()) {
    if (!subnetIdPattern.test(subnet.subnetId)) problems.push(`probe.subnets[${i}].subnetId: "${subnet.subnetId}" is not a subnet id (subnet-0123abcd)`);
    if (!azPattern.test(subnet.availabilityZone)) problems.push(`probe.subnets[${i}].availabilityZone: "${subnet.availabilityZone}" is not an Availability Zone (us-east-1a)`);
  }
  const zones = new Set(s.subnets.map((x) => x.availabilityZone));
  if (s.subnets.length >= 2 && zones.size < 2) problems.push('probe.subnets: all in one Availability Zone; observers must see from at least two');
  if (zones.size !== s.subnets.length) problems.push('probe.subnets: one subnet per Availability Zone (observers are named by zone)');
  if (groupNames.length === 0) problems.push('groups: name the groups the observers probe (observers do not follow the opt-in tag)');
  const port = s.port ?? observerDefaults.port;
  if (!isTargetPort(port)) problems.push(`probe.port: ${targetPortRange}, got ${port}`);
  const intervalMs = s.interval?.toMilliseconds() ?? observerDefaults.intervalMs;
  const timeoutMs = s.timeout?.toMilliseconds() ?? observerDefaults.timeoutMs;
  if (intervalMs < 500 || intervalMs > 30_000) problems.push(`probe.interval: from 0.5 to 30 seconds, got ${intervalMs} ms`);
  if (timeoutMs > intervalMs) problems.push(`probe.timeout: at most probe.interval (${intervalMs} ms), got ${timeoutMs} ms`);
  const threshold = s.unhealthyThreshold ?? observerDefaults.unhealthyThreshold;
  if (!(Number.isInteger(threshold) && threshold >= 1 && threshold <= 10)) problems.push(`probe.unhealthyThreshold: an integer from 1 to 10, got ${threshold}`);
  const memory = s.memorySize ?? observerDefaults.memorySize;
  if (!(Number.isInteger(memory) && memory >= 128 && memory <= 10_240)) problems.push(`probe.memorySize: an integer from 128 to 10240 MB, got ${memory}`);
  if (s.path !== undefined && !s.path.startsWith('/')) problems.push(`probe.path: must start with "/", got "${s.path}"`);
  return problems;
}

/** The observer's name for a zone: what the quorum counts and the heartbeat's dimension. */
export const observerName = (availabilityZone: string): string => `observer-${availabilityZone}`;
