import type { Collector, Place } from './context.js';
import { probeAlarmPrefix } from './alarm-message.js';
import { arr, instanceIdFromName, isEc2InstanceId, isoTime, isRecord, notAnInstanceId, quote, rec, regionFromArn, shortReason, str } from './read.js';
import { regionFromName } from './regions.js';
import type { HealthSignal, InstanceIdOrigin, SignalSource } from './types.js';

interface Found {
  instanceId: string;
  from: InstanceIdOrigin;
}

/** What an alarm says, whichever shape carried it, before it becomes a signal. */
interface AlarmFacts {
  name: string;
  state: unknown;
  /** Field names (relative to the place) for reasons. */
  stateField: string;
  reason: string | undefined;
  time: string | undefined;
  timeField: string;
  region: string | undefined;
  eventId: string | undefined;
  /** Distinguishes per-contributor events of one alarm in derived ids. */
  contributorId?: string;
  source: SignalSource;
  /** The observer of a probe verdict (its `Observer` dimension). */
  observer?: string;
}

/** The value of an `Observer` dimension, when it is a short printable name. */
function observerOf(dimensions: unknown[] | undefined): string | undefined {
  for (const dimension of dimensions ?? []) {
    if (!isRecord(dimension) || (str(dimension, 'name') ?? str(dimension, 'Name')) !== 'Observer') continue;
    const value = (str(dimension, 'value') ?? str(dimension, 'Value'))?.trim();
    if (value !== undefined && /^[\w.:@-]{1,64}$/.test(value)) return value;
  }
  return undefined;
}

function stateOf(facts: AlarmFacts, col: Collector, at: Place): HealthSignal['state'] | undefined {
  if (facts.state === 'ALARM') return 'unhealthy';
  if (facts.state === 'OK') return 'healthy';
  if (facts.state === 'INSUFFICIENT_DATA') col.reject(at, facts.stateField, 'INSUFFICIENT_DATA, no action');
  else if (typeof facts.state === 'string') col.reject(at, facts.stateField, `${quote(facts.state)} is not ALARM, OK or INSUFFICIENT_DATA`);
  else col.reject(at, facts.stateField, 'missing');
  return undefined;
}

/** The single instance named by a list of candidate ids, or a reason why not. */
function single(ids: Set<string>, from: InstanceIdOrigin): Found | string | undefined {
  if (ids.size === 0) return undefined;
  if (ids.size > 1) return `several instances (${[...ids].slice(0, 5).map((id) => quote(id, 30)).join(', ')}), cannot tell which one`;
  const [instanceId] = ids;
  if (instanceId === undefined) return undefined;
  // Checked here, at parse time: one malformed id must not make Auto Scaling refuse a whole batch.
  return isEc2InstanceId(instanceId) ? { instanceId, from } : notAnInstanceId(instanceId);
}

function emit(col: Collector, at: Place, facts: AlarmFacts, found: Found | string | undefined, missingField: string, missingText: string): void {
  const state = stateOf(facts, col, at);
  if (state === undefined) return;
  if (typeof found === 'string') {
    col.reject(at, missingField, found);
    return;
  }
  const byName = found ?? fromName(facts.name);
  if (byName === undefined) {
    col.reject(at, missingField, missingText);
    return;
  }
  const observedAt = isoTime(facts.time) ?? at.envelopeTime;
  if (observedAt === undefined) {
    col.reject(at, facts.timeField, 'not an ISO 8601 timestamp');
    return;
  }
  const contributor = facts.contributorId === undefined ? '' : `:${facts.contributorId}`;
  const signal: HealthSignal = {
    instanceId: byName.instanceId,
    state,
    source: facts.source,
    observedAt,
    eventId: facts.eventId ?? `${facts.name}${contributor}@${observedAt}`,
    reason: facts.reason === undefined ? `alarm ${facts.name} is ${String(facts.state)}` : shortReason(facts.reason),
    instanceIdFrom: byName.from,
    alarmName: facts.name,
  };
  if (facts.region !== undefined) signal.region = facts.region;
  if (facts.observer !== undefined) signal.observer = facts.observer;
  col.signal(at, signal);
}

function fromName(name: string): Found | undefined {
  const instanceId = name.length <= 255 ? instanceIdFromName(name) : undefined;
  return instanceId === undefined ? undefined : { instanceId, from: 'alarm-name' };
}

function dimensionValue(dimension: unknown): string | undefined {
  if (!isRecord(dimension)) return undefined;
  // Real payloads write `name`/`value` in lower case; hand-written ones often capitalise.
  const name = str(dimension, 'name') ?? str(dimension, 'Name');
  if (name !== 'InstanceId') return undefined;
  const value = (str(dimension, 'value') ?? str(dimension, 'Value'))?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Collects InstanceId values from a list of `{name, value}` dimensions. */
function addFromList(ids: Set<string>, dimensions: unknown[] | undefined): void {
  if (dimensions === undefined) return;
  for (const dimension of dimensions) {
    const value = dimensionValue(dimension);
    if (value !== undefined) ids.add(value);
  }
}

/** Collects the InstanceId of a `{InstanceId: …}` dimension map. */
function addFromMap(ids: Set<string>, dimensions: Record<string, unknown> | undefined): void {
  const value = dimensions === undefined ? undefined : str(dimensions, 'InstanceId')?.trim();
  if (value !== undefined && value !== '') ids.add(value);
}

/**
 * The CloudWatch alarm JSON that SNS publishes (the SNS `Message`, or a raw SQS body):
 * single-metric alarms name the instance in `Trigger.Dimensions`, metric-math alarms in
 * `Trigger.Metrics[].MetricStat.Metric.Dimensions`.
 */
export function alarmMessage(col: Collector, at: Place, msg: Record<string, unknown>): void {
  const name = str(msg, 'AlarmName');
  if (name === undefined) {
    col.reject(at, 'AlarmName', 'missing');
    return;
  }
  const arn = str(msg, 'AlarmArn');
  const regionName = str(msg, 'Region');
  const facts: AlarmFacts = {
    name,
    state: msg.NewStateValue,
    stateField: 'NewStateValue',
    reason: str(msg, 'NewStateReason'),
    time: str(msg, 'StateChangeTime'),
    timeField: 'StateChangeTime',
    region: regionFromArn(arn) ?? (regionName === undefined ? undefined : regionFromName(regionName)),
    eventId: at.envelopeId,
    source: at.legacy ? 'legacy-escaped-alarm' : 'cloudwatch-alarm',
  };
  const trigger = rec(msg, 'Trigger');
  // autoheal's own probe verdicts travel as alarm messages (toAlarmMessage): they are probe evidence.
  // Anything else named like one is refused: as an alarm it would mark alone, with no quorum.
  if (name.startsWith(probeAlarmPrefix)) {
    const namespace = trigger === undefined ? undefined : str(trigger, 'Namespace');
    if (trigger === undefined || namespace !== 'autoheal') {
      col.reject(at, 'Trigger.Namespace', `${namespace === undefined ? 'missing' : `"${namespace}"`} for alarm ${quote(name)}: a name starting ${probeAlarmPrefix} is an autoheal probe verdict (namespace autoheal), and a look-alike is neither a verdict nor an alarm autoheal acts on`);
      return;
    }
    facts.source = 'probe';
    const observer = observerOf(arr(trigger, 'Dimensions'));
    if (observer !== undefined) facts.observer = observer;
  }
  const ids = new Set<string>();
  let field = 'Trigger';
  if (trigger !== undefined) {
    const metrics = arr(trigger, 'Metrics');
    if (metrics !== undefined) {
      field = 'Trigger.Metrics';
      for (const metric of metrics) {
        const metricStat = isRecord(metric) ? rec(metric, 'MetricStat') : undefined;
        const inner = metricStat === undefined ? undefined : rec(metricStat, 'Metric');
        addFromList(ids, inner === undefined ? undefined : arr(inner, 'Dimensions'));
      }
    } else {
      field = 'Trigger.Dimensions';
      addFromList(ids, arr(trigger, 'Dimensions'));
    }
  }
  emit(col, at, facts, single(ids, 'dimension'), field, trigger === undefined ? 'missing, and the alarm name ends with no instance id' : 'no InstanceId');
}

/**
 * The `detail` of an EventBridge "CloudWatch Alarm State Change" (or "… Contributor State
 * Change") event, and the `alarmData` of the payload an alarm sends when it invokes a Lambda
 * function directly: both carry `alarmName`, `state{value,reason,timestamp}` and
 * `configuration.metrics[].metricStat.metric.dimensions` as a map. Metrics Insights alarms on
 * several time series name the instance in `alarmContributor.attributes`.
 */
export function alarmData(
  col: Collector,
  at: Place,
  data: Record<string, unknown>,
  envelope: { eventId: string | undefined; time: unknown; region: string | undefined; source: SignalSource },
): void {
  const name = str(data, 'alarmName');
  if (name === undefined) {
    col.reject(at, 'alarmName', 'missing');
    return;
  }
  const state = rec(data, 'state');
  const contributor = rec(data, 'alarmContributor');
  const facts: AlarmFacts = {
    name,
    state: state?.value,
    stateField: 'state.value',
    reason: state === undefined ? undefined : str(state, 'reason'),
    time: (state === undefined ? undefined : str(state, 'timestamp')) ?? (typeof envelope.time === 'string' ? envelope.time : undefined),
    timeField: 'state.timestamp',
    region: envelope.region,
    eventId: envelope.eventId,
    source: envelope.source,
  };
  const configuration = rec(data, 'configuration');
  if (contributor !== undefined) {
    const contributorId = str(contributor, 'id');
    if (contributorId !== undefined) facts.contributorId = contributorId;
    const ids = new Set<string>();
    const attributes = rec(contributor, 'attributes');
    addFromMap(ids, attributes);
    emit(col, at, facts, single(ids, 'contributor'), 'alarmContributor.attributes', 'no InstanceId');
    return;
  }
  if (configuration !== undefined && typeof configuration.alarmRule === 'string') {
    emit(col, at, facts, undefined, 'configuration.alarmRule', 'composite alarm, no InstanceId');
    return;
  }
  const ids = new Set<string>();
  for (const metric of (configuration === undefined ? undefined : arr(configuration, 'metrics')) ?? []) {
    const metricStat = isRecord(metric) ? rec(metric, 'metricStat') : undefined;
    const inner = metricStat === undefined ? undefined : rec(metricStat, 'metric');
    addFromMap(ids, inner === undefined ? undefined : rec(inner, 'dimensions'));
  }
  emit(col, at, facts, single(ids, 'dimension'), 'configuration.metrics', configuration === undefined ? 'missing' : 'no InstanceId');
}
