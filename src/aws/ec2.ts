/**
 * EC2: DescribeInstances, for each instance's launch time, private IP and tags (the grace period,
 * the loop breaker and suppression need them, and Auto Scaling's calls do not return them; an
 * observer probes the private IP); GetConsoleOutput, the evidence of an instance autoheal
 * marked (src/evidence/); and DescribeApplicationStatus, what AWS's application status checks say
 * of each instance, counted as one more observer (src/app-check/).
 *
 * Why not `@aws-sdk/client-ec2`: its schemas are one 1.3 MB module that no bundler can shake, so it
 * would grow the Lambda bundle from 0.7 to 1.8 MB and its cold start by ~250 ms (past 1.5x the
 * baseline). The call is signed with the parts of a client the process already has (./query.ts).
 */
import { mapLimited } from '../concurrency.js';
import { callAws, callsAtOnce, chunks } from './call.js';
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
  const answers = await mapLimited(chunks([...new Set(instanceIds)], instanceIdsPerDescribe), callsAtOnce, (batch) => describeKnown(client, batch, signal));
  for (const batchAnswers of answers) {
    for (const answer of batchAnswers) {
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

/** One application status check's result for one instance, as EC2 reports it. */
export interface ApplicationCheckResult {
  checkId: string;
  /** `included` or `excluded`: whether the check counts toward the instance-level status. */
  aggregation?: string;
  /** `passed`, `failed`, `initializing`, `insufficient-data` or `not-applicable`, as EC2 writes it. */
  status?: string;
  /** When the current status began (ISO 8601). */
  statusSince?: string;
  /** Why, as EC2 says it (`code`, the HTTP status it got, the protocol). */
  reason?: { code?: string; statusCode?: string; protocol?: string };
}

/** One instance's application status checks: every check EC2 runs on it, `excluded` ones too. */
export interface InstanceApplicationStatus {
  instanceId: string;
  availabilityZone?: string;
  checks: ApplicationCheckResult[];
}

/** DescribeApplicationStatus takes this many instance ids per call (as DescribeInstanceStatus). */
export const instanceIdsPerApplicationStatus = 100;

const present = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> => (value === undefined ? {} : ({ [key]: value } as Record<K, string>));

function applicationStatusOf(item: unknown): InstanceApplicationStatus | undefined {
  const instanceId = text(node(item, 'instanceId'));
  if (instanceId === undefined) return undefined;
  const status = node(item, 'applicationStatus');
  const checks: ApplicationCheckResult[] = [];
  for (const d of list(node(node(status, 'detailSet'), 'item'))) {
    const checkId = text(node(d, 'applicationStatusCheckId'));
    if (checkId === undefined) continue;
    const reason = node(d, 'reason');
    checks.push({
      checkId,
      ...present('aggregation', text(node(d, 'aggregation'))),
      ...present('status', text(node(d, 'status'))),
      ...present('statusSince', text(node(d, 'statusSince'))),
      ...(reason === undefined
        ? {}
        : { reason: { ...present('code', text(node(reason, 'code'))), ...present('statusCode', text(node(reason, 'statusCode'))), ...present('protocol', text(node(reason, 'protocol'))) } }),
    });
  }
  return { instanceId, ...present('availabilityZone', text(node(item, 'availabilityZone'))), checks };
}

/**
 * DescribeApplicationStatus for these instances, every page, {@link instanceIdsPerApplicationStatus}
 * ids a call: per instance, every application status check EC2 runs on it. An instance EC2 has no
 * status for is absent. Never called without ids: that would describe every instance of the account.
 */
export async function describeApplicationStatus(client: SigningClient, instanceIds: readonly string[], signal?: AbortSignal): Promise<InstanceApplicationStatus[]> {
  const batches = chunks([...new Set(instanceIds)], instanceIdsPerApplicationStatus);
  const answers = await mapLimited(batches, callsAtOnce, async (batch) => {
    const params: Record<string, string> = {};
    batch.forEach((id, i) => (params[`InstanceId.${i + 1}`] = id));
    const out: InstanceApplicationStatus[] = [];
    let nextToken: string | undefined;
    // A batch of 100 ids fits a few pages; a token EC2 repeats must not loop forever.
    const seen = new Set<string>();
    do {
      if (nextToken) seen.add(nextToken);
      const root = node(await ec2Call(client, 'DescribeApplicationStatus', { ...params, ...(nextToken ? { NextToken: nextToken } : {}) }, signal), 'DescribeApplicationStatusResponse');
      for (const item of list(node(node(node(root, 'applicationStatusesResponseType'), 'instanceSet'), 'item'))) {
        const status = applicationStatusOf(item);
        if (status) out.push(status);
      }
      nextToken = text(node(root, 'nextToken'));
    } while (nextToken && !seen.has(nextToken));
    return out;
  });
  return answers.flat();
}

/** A tag an application status check follows: every current and future instance carrying it is checked. */
export interface CheckTag {
  key: string;
  value: string;
}

/** What EC2 did with each tag of an association call: `EC2TAG` targets as `key=value`. */
export interface AssociationResults {
  associated: string[];
  refused: Array<{ target: string; reason: string }>;
}

/**
 * AssociateApplicationStatusCheck (`associate`) or DisassociateApplicationStatusCheck with tags.
 * EC2 answers per tag; the caller reads `refused`. Never called without tags (EC2 would refuse it).
 */
export async function applicationStatusCheckTags(
  client: SigningClient,
  change: 'associate' | 'disassociate',
  checkId: string,
  tags: readonly CheckTag[],
  signal?: AbortSignal,
): Promise<AssociationResults> {
  if (tags.length === 0) return { associated: [], refused: [] };
  const action = change === 'associate' ? 'AssociateApplicationStatusCheck' : 'DisassociateApplicationStatusCheck';
  const params: Record<string, string> = { ApplicationStatusCheckId: checkId };
  tags.forEach((t, i) => {
    params[`TargetTagAssociation.${i + 1}.Key`] = t.key;
    params[`TargetTagAssociation.${i + 1}.Value`] = t.value;
  });
  const root = node(await ec2Call(client, action, params, signal), `${action}Response`);
  const items = (set: string): unknown[] => list(node(node(root, set), 'item'));
  return {
    associated: items('successfulResultSet').map((r) => text(node(r, 'associationValue')) ?? ''),
    refused: items('unsuccessfulResultSet').map((r) => ({ target: text(node(r, 'associationValue')) ?? '', reason: text(node(r, 'reason')) ?? 'no reason given' })),
  };
}
