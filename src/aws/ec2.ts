/**
 * EC2: DescribeInstances, for each instance's launch time, private IP and tags (the grace period,
 * the loop breaker and suppression need them, and Auto Scaling's calls do not return them; an
 * observer probes the private IP); GetConsoleOutput, the evidence of an instance autoheal marked
 * (src/evidence/); and the application status checks, AWS's own probe counted as one more
 * observer (create, associate, read, delete).
 *
 * Why not `@aws-sdk/client-ec2`: its schemas are one 1.3 MB module that no bundler can shake, so it
 * would grow the Lambda bundle from 0.7 to 1.8 MB and its cold start by ~250 ms (past 1.5x the
 * baseline). The call is signed with the parts of a client the process already has (./query.ts).
 */
import { RemoteError } from '../errors.js';
import { callAws, chunks } from './call.js';
import { sendQuery, xmlList as list, xmlNode as node, xmlText as text, type SigningClient, type Xml } from './query.js';

/** What EC2 says of one instance. */
export interface InstanceFacts {
  launchedAt?: Date;
  /** The primary private IPv4 address (what an observer in the VPC probes, and `autoheal status --port`). */
  privateIp?: string;
  tags: Record<string, string>;
  /** Why facts the healer needs are missing or unreadable (no launch time, no tag set); absent when all are read. */
  unreadable?: string;
}

/** DescribeInstances accepts up to 1000 ids; smaller calls keep one answer well within its deadline. */
export const instanceIdsPerDescribe = 200;
const apiVersion = '2016-11-15';
/** EC2's answer when it does not know an id yet (eventual consistency) or any more; its message names the ids. */
const unknownIdCode = 'InvalidInstanceID.NotFound';

/**
 * The facts of the instances, by id. Ids EC2 does not know are left out of the answer (EC2 fails
 * the whole call for them; the others are asked again without them). Never called without ids:
 * that would list every instance of the account.
 */
export async function describeInstances(client: SigningClient, instanceIds: readonly string[], signal?: AbortSignal): Promise<Map<string, InstanceFacts>> {
  const facts = new Map<string, InstanceFacts>();
  for (const batch of chunks([...new Set(instanceIds)], instanceIdsPerDescribe)) {
    for (const answer of await describeKnown(client, batch, signal)) {
      for (const reservation of list(node(node(node(answer, 'DescribeInstancesResponse'), 'reservationSet'), 'item'))) {
        for (const instance of list(node(node(reservation, 'instancesSet'), 'item'))) {
          const id = text(node(instance, 'instanceId'));
          if (id !== undefined) facts.set(id, factsOf(instance));
        }
      }
    }
  }
  return facts;
}

function factsOf(instance: unknown): InstanceFacts {
  const launched = text(node(instance, 'launchTime'));
  const privateIp = text(node(instance, 'privateIpAddress'));
  const tags: Record<string, string> = {};
  const tagSet = node(instance, 'tagSet');
  const unreadable = [
    ...(launched === undefined || Number.isNaN(Date.parse(launched)) ? [`launch time ${launched === undefined ? 'missing' : `"${launched}" unreadable`}`] : []),
    ...(tagSet === undefined ? ['no tag set'] : []),
  ];
  for (const tag of list(node(tagSet, 'item'))) {
    const key = text(node(tag, 'key'));
    if (key !== undefined) tags[key] = text(node(tag, 'value')) ?? '';
  }
  return {
    ...(launched && !Number.isNaN(Date.parse(launched)) ? { launchedAt: new Date(launched) } : {}),
    ...(privateIp ? { privateIp } : {}),
    tags,
    ...(unreadable.length > 0 ? { unreadable: unreadable.join(', ') } : {}),
  };
}

/** The answers for `ids`, asking again without the ids EC2 says it does not know. */
async function describeKnown(client: SigningClient, ids: readonly string[], signal?: AbortSignal): Promise<Xml[]> {
  try {
    const params: Record<string, string> = {};
    ids.forEach((id, i) => (params[`InstanceId.${i + 1}`] = id));
    const call = { service: 'ec2', serviceId: 'EC2', action: 'DescribeInstances', version: apiVersion, params };
    return [await callAws('ec2:DescribeInstances', signal, (abortSignal) => sendQuery(client, call, abortSignal))];
  } catch (error) {
    const unknown = unknownIds(error, ids);
    if (unknown === undefined) throw error;
    if (unknown.length > 0) {
      const rest = ids.filter((id) => !unknown.includes(id));
      return rest.length === 0 ? [] : describeKnown(client, rest, signal);
    }
    // Not found, but the message names none of them: ask for each alone, so only the unknown drop out.
    if (ids.length === 1) return [];
    const answers: Xml[] = [];
    for (const id of ids) answers.push(...(await describeKnown(client, [id], signal)));
    return answers;
  }
}

/** The asked ids an InvalidInstanceID.NotFound names ("The instance IDs 'i-1, i-2' do not exist"); undefined for any other error. */
function unknownIds(error: unknown, asked: readonly string[]): string[] | undefined {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (!(cause instanceof Error) || cause.name !== unknownIdCode) return undefined;
  // Whole ids only: i-12345678 is not named by i-12345678abcdef012.
  return asked.filter((id) => new RegExp(`(^|[^0-9a-z-])${id.replace(/[^0-9a-z-]/gi, '\\$&')}($|[^0-9a-z])`).test(cause.message));
}

/** One EC2 Query call of `action`, bounded and converted by callAws. */
function ec2Call(client: SigningClient, action: string, params: Record<string, string>, signal?: AbortSignal): Promise<Xml> {
  const call = { service: 'ec2', serviceId: 'EC2', action, version: apiVersion, params };
  return callAws(`ec2:${action}`, signal, (abortSignal) => sendQuery(client, call, abortSignal));
}

/** An instance's console output as EC2 keeps it: the text (decoded), when EC2 took it, and whether it is the latest. */
export interface ConsoleOutput {
  instanceId: string;
  /** The output, decoded from EC2's base64; empty when EC2 has none (yet). */
  text: string;
  /** When EC2 took the output (ISO 8601), when it says. */
  takenAt?: string;
  /** The most recent output (Nitro instances); false: the output EC2 buffered at the last boot or stop. */
  latest: boolean;
}

/** The error codes of a GetConsoleOutput that asked for the latest output of an instance that has none (not Nitro). */
const latestUnsupported = new Set(['UnsupportedOperation', 'InvalidParameterCombination', 'InvalidParameterValue', 'InvalidParameter']);

/**
 * GetConsoleOutput: the latest output of the instance (`Latest=true`, Nitro instances); an
 * instance that keeps no latest output (EC2 refuses the parameter) is asked once more for the
 * output EC2 buffered. EC2 keeps at most the last 64 KB. Any other failure is the caller's.
 */
export async function getConsoleOutput(client: SigningClient, instanceId: string, signal?: AbortSignal): Promise<ConsoleOutput> {
  const read = (answer: Xml, latest: boolean): ConsoleOutput => {
    const root = node(answer, 'GetConsoleOutputResponse');
    const encoded = text(node(root, 'output')) ?? '';
    const takenAt = text(node(root, 'timestamp'));
    return { instanceId, text: Buffer.from(encoded, 'base64').toString('utf8'), ...(takenAt ? { takenAt } : {}), latest };
  };
  try {
    return read(await ec2Call(client, 'GetConsoleOutput', { InstanceId: instanceId, Latest: 'true' }, signal), true);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
    if (cause === undefined || !latestUnsupported.has(cause.name)) throw error;
    return read(await ec2Call(client, 'GetConsoleOutput', { InstanceId: instanceId }, signal), false);
  }
}

/** One application status check's result for one instance, as EC2 reports it (strings as EC2 writes them). */
export interface ApplicationCheckResult {
  checkId?: string;
  /** `included` or `excluded`: whether the check counts toward the instance-level status. */
  aggregation?: string;
  /** `passed`, `failed`, `initializing`, `insufficient-data` or `not-applicable`. */
  status?: string;
  /** When EC2 last updated the check's status. */
  statusTimeStamp?: string;
  /** When the current status began. */
  statusSince?: string;
  reason?: { code?: string; statusCode?: string; protocol?: string };
}

/** One instance's application status: the instance-level status and every check associated with it. */
export interface InstanceApplicationStatus {
  instanceId?: string;
  availabilityZone?: string;
  /** The instance-level status, from the checks whose aggregation is `included` only. */
  status?: string;
  checks: ApplicationCheckResult[];
}

/** DescribeApplicationStatus takes at most this many instance ids per call (as DescribeInstanceStatus). */
export const instanceIdsPerApplicationStatus = 100;

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

function applicationStatusOf(item: unknown): InstanceApplicationStatus {
  const status = node(item, 'applicationStatus');
  return {
    ...optional('instanceId', text(node(item, 'instanceId'))),
    ...optional('availabilityZone', text(node(item, 'availabilityZone'))),
    ...optional('status', text(node(status, 'status'))),
    checks: list(node(node(status, 'detailSet'), 'item')).map((d) => {
      const reason = node(d, 'reason');
      return {
        ...optional('checkId', text(node(d, 'applicationStatusCheckId'))),
        ...optional('aggregation', text(node(d, 'aggregation'))),
        ...optional('status', text(node(d, 'status'))),
        ...optional('statusTimeStamp', text(node(d, 'statusTimeStamp'))),
        ...optional('statusSince', text(node(d, 'statusSince'))),
        ...(reason === undefined
          ? {}
          : { reason: { ...optional('code', text(node(reason, 'code'))), ...optional('statusCode', text(node(reason, 'statusCode'))), ...optional('protocol', text(node(reason, 'protocol'))) } }),
      };
    }),
  };
}

/**
 * DescribeApplicationStatus for these instances, every page, in batches of
 * {@link instanceIdsPerApplicationStatus}: per instance, every application status check EC2 runs
 * on it. Never called without ids: that would describe every instance of the account.
 */
export async function describeApplicationStatus(client: SigningClient, instanceIds: readonly string[], signal?: AbortSignal): Promise<InstanceApplicationStatus[]> {
  const out: InstanceApplicationStatus[] = [];
  for (const batch of chunks([...new Set(instanceIds)], instanceIdsPerApplicationStatus)) {
    const params: Record<string, string> = {};
    batch.forEach((id, i) => (params[`InstanceId.${i + 1}`] = id));
    let nextToken: string | undefined;
    do {
      const answer = await ec2Call(client, 'DescribeApplicationStatus', { ...params, ...(nextToken ? { NextToken: nextToken } : {}) }, signal);
      const root = node(answer, 'DescribeApplicationStatusResponse');
      for (const item of list(node(node(node(root, 'applicationStatusesResponseType'), 'instanceSet'), 'item'))) out.push(applicationStatusOf(item));
      nextToken = text(node(root, 'nextToken'));
    } while (nextToken);
  }
  return out;
}

/** What AssociateApplicationStatusCheck did with each target: `EC2TAG` (`key=value`) or `INSTANCE_ID`. */
export interface AssociationResults {
  associated: Array<{ type: string; value: string }>;
  refused: Array<{ type: string; value: string; reason: string }>;
}

/**
 * AssociateApplicationStatusCheck with tags (every current and future instance carrying one of
 * them is checked) or with instances. EC2 answers per target; the caller reads `refused`.
 */
export async function associateApplicationStatusCheck(
  client: SigningClient,
  checkId: string,
  targets: { tags: ReadonlyArray<{ key: string; value: string }> } | { instanceIds: readonly string[] },
  signal?: AbortSignal,
): Promise<AssociationResults> {
  const params: Record<string, string> = { ApplicationStatusCheckId: checkId };
  if ('tags' in targets) {
    targets.tags.forEach((t, i) => {
      params[`TargetTagAssociation.${i + 1}.Key`] = t.key;
      params[`TargetTagAssociation.${i + 1}.Value`] = t.value;
    });
  } else {
    targets.instanceIds.forEach((id, i) => (params[`InstanceId.${i + 1}`] = id));
  }
  const root = node(await ec2Call(client, 'AssociateApplicationStatusCheck', params, signal), 'AssociateApplicationStatusCheckResponse');
  const entries = (set: string) => list(node(node(root, set), 'item'));
  return {
    associated: entries('successfulResultSet').map((r) => ({ type: text(node(r, 'associationType')) ?? '', value: text(node(r, 'associationValue')) ?? '' })),
    refused: entries('unsuccessfulResultSet').map((r) => ({
      type: text(node(r, 'associationType')) ?? '',
      value: text(node(r, 'associationValue')) ?? '',
      reason: text(node(r, 'reason')) ?? 'no reason given',
    })),
  };
}

/** What an application status check probes and how it judges, as CreateApplicationStatusCheck takes it. */
export interface ApplicationCheckSpec {
  protocol: 'http' | 'https';
  port: number;
  path: string;
  /** `excluded`: the check's result does not count toward the instance-level status (Auto Scaling does not act on it alone). */
  aggregation: 'included' | 'excluded';
  timeoutSeconds: number;
  failureThreshold: number;
  statusCodes: string;
  initializationGracePeriodSeconds: number;
  tags: Record<string, string>;
  /** Makes a retried create idempotent (at most 64 ASCII characters). */
  clientToken: string;
}

/** CreateApplicationStatusCheck; resolves with the check's id. */
export async function createApplicationStatusCheck(client: SigningClient, spec: ApplicationCheckSpec, signal?: AbortSignal): Promise<string> {
  const params: Record<string, string> = {
    Protocol: spec.protocol,
    Port: String(spec.port),
    Path: spec.path,
    Aggregation: spec.aggregation,
    Timeout: String(spec.timeoutSeconds),
    FailureThreshold: String(spec.failureThreshold),
    StatusCodeMatcher: spec.statusCodes,
    InitializationGracePeriodSeconds: String(spec.initializationGracePeriodSeconds),
    ClientToken: spec.clientToken,
  };
  const tags = Object.entries(spec.tags);
  if (tags.length > 0) {
    params['TagSpecification.1.ResourceType'] = 'application-status-check';
    tags.forEach(([key, value], i) => {
      params[`TagSpecification.1.Tag.${i + 1}.Key`] = key;
      params[`TagSpecification.1.Tag.${i + 1}.Value`] = value;
    });
  }
  const answer = await ec2Call(client, 'CreateApplicationStatusCheck', params, signal);
  const id = text(node(node(node(answer, 'CreateApplicationStatusCheckResponse'), 'applicationStatusCheck'), 'applicationStatusCheckId'));
  if (id === undefined) throw new RemoteError('ec2:CreateApplicationStatusCheck', 'EC2 answered without an application status check id', { retryable: true });
  return id;
}

/** The code EC2 answers for a check it does not know (deleted already). */
const unknownCheckCodes = new Set(['InvalidApplicationStatusCheckId.NotFound', 'InvalidApplicationStatusCheckID.NotFound']);

/** DeleteApplicationStatusCheck; a check EC2 does not know (deleted already) counts as deleted. */
export async function deleteApplicationStatusCheck(client: SigningClient, checkId: string, signal?: AbortSignal): Promise<void> {
  try {
    await ec2Call(client, 'DeleteApplicationStatusCheck', { ApplicationStatusCheckId: checkId }, signal);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
    if (cause === undefined || !unknownCheckCodes.has(cause.name)) throw error;
  }
}
