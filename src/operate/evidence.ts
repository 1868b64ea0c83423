/**
 * The evidence of an instance autoheal marked, kept where an operator reads it after the instance
 * is gone: one JSON object per instance, `evidence/<instanceId>.json` in the stack's bucket (the
 * bucket's lifecycle rule expires it).
 *
 * Written twice, by two processes, so that each part is taken where it is known:
 * 1. at the mark, by the healer, before it calls SetInstanceHealth: the verdict with its evidence
 *    and the group's state as the healer saw it then ({@link markEvidence}). Its existence is also
 *    how the evidence function knows the termination is autoheal's;
 * 2. at the termination, by the evidence function (src/evidence/), holding the termination
 *    lifecycle hook: the latest console output and the group's state then ({@link EvidenceCapture}).
 *
 * The verdict has the shape the local group's evidence has (the demo's `rounds[].evidence`).
 */
import { getObject, putObject } from '../aws/s3.js';
import { InvalidInputError } from '../errors.js';
import type { SigningClient } from '../aws/query.js';
import type { GroupView, InstanceView } from '../fleet/port.js';
import type { Verdict } from '../policy/types.js';
import type { HealthSignal } from '../signals/types.js';
import type { MarkEvidencePort, MarkFacts, VerdictRecord } from '../healer/types.js';

/** The version of the evidence document; a reader refuses other versions by name. */
export const evidenceVersion = 1;
/** Console output lines kept in `capture.lastOutput` (EC2 keeps at most the last 64 KB). */
export const lastOutputLines = 200;

/** A marking verdict: why the instance was marked, from which evidence, seen when. */
export interface MarkingVerdict {
  action: 'mark';
  /** The reason key (`unhealthy`), and the numbers behind it. */
  reason: string;
  detail?: string;
  /** Where the evidence came from (`probe`, `alarm`, …), what it said, and when it was seen. */
  source: string;
  evidence: string;
  observedAt: string;
  /** The observer that probed, for probe evidence. */
  observer?: string;
  /** The alarm that said so, for alarm evidence. */
  alarmName?: string;
  eventId: string;
}

/** The marking verdict of a signal and its verdict. */
export function markingVerdictOf(s: HealthSignal, verdict: Verdict): MarkingVerdict {
  return {
    action: 'mark',
    reason: verdict.reason,
    ...(verdict.detail !== undefined ? { detail: verdict.detail } : {}),
    source: s.source,
    evidence: s.reason,
    observedAt: s.observedAt,
    ...(s.observer !== undefined ? { observer: s.observer } : {}),
    ...(s.alarmName !== undefined ? { alarmName: s.alarmName } : {}),
    eventId: s.eventId,
  };
}

/** The verdict of a healer record, as the evidence shows it. */
export const markingVerdict = (r: VerdictRecord): MarkingVerdict => markingVerdictOf(r.signal, r.verdict);

/** A group's state at one moment: its capacity, its suspended processes, each instance's state. */
export interface GroupState {
  name: string;
  desiredCapacity: number;
  healthCheckGracePeriodSeconds: number;
  suspendedProcesses: string[];
  instances: Array<{ instanceId: string; lifecycleState: string; healthStatus: string; availabilityZone?: string; launchedAt?: string }>;
}

/** The state of the group in a fleet view. */
export function groupStateOf(group: GroupView): GroupState {
  return {
    name: group.name,
    desiredCapacity: group.desiredCapacity,
    healthCheckGracePeriodSeconds: group.healthCheckGracePeriodSeconds,
    suspendedProcesses: [...group.suspendedProcesses],
    instances: group.instances.map((i: InstanceView) => ({
      instanceId: i.instanceId,
      lifecycleState: i.lifecycleState,
      healthStatus: i.healthStatus,
      ...(i.availabilityZone ? { availabilityZone: i.availabilityZone } : {}),
      ...(i.launchedAt ? { launchedAt: i.launchedAt.toISOString() } : {}),
    })),
  };
}

/** What the evidence function took while it held the termination. */
export interface EvidenceCapture {
  /** When it took it (ISO 8601). */
  at: string;
  /** The lifecycle hook it held, and what it answered: ABANDON when it kept the instance (quarantine `retain`). */
  hookName: string;
  result: 'CONTINUE' | 'ABANDON';
  /** Kept for inspection (Terminating:Retained) by the group's instance lifecycle policy, instead of terminated. */
  retained?: true;
  /** With `retained`: the command that releases (terminates) it. */
  release?: string;
  /** Quarantine `retain` asked for, and why this instance was not kept (the group's N already retained, …). */
  notRetained?: string;
  /** The console output as EC2 gave it, or why there is none. */
  consoleOutput: { takenAt?: string; latest: boolean; bytes: number } | { error: string };
  /** The last {@link lastOutputLines} lines of the console output, oldest first. */
  lastOutput: string[];
  /** The group's state while the instance was Terminating:Wait, or why it could not be read. */
  group?: GroupState;
  groupError?: string;
}

/** The evidence document of one instance. */
export interface EvidenceRecord {
  kind: 'autoheal.evidence';
  version: typeof evidenceVersion;
  instanceId: string;
  groupName: string;
  availabilityZone?: string;
  /** When the healer marked it (ISO 8601). */
  markedAt: string;
  verdict: MarkingVerdict;
  /** The group as the healer saw it when it decided to mark. */
  groupAtMark: GroupState;
  /** Absent until the evidence function held the instance's termination. */
  capture?: EvidenceCapture;
}


/** The evidence document the healer writes at a mark. */
export function markEvidence(m: MarkFacts): EvidenceRecord {
  return {
    kind: 'autoheal.evidence',
    version: evidenceVersion,
    instanceId: m.instance.instanceId,
    groupName: m.group.name,
    ...(m.instance.availabilityZone ? { availabilityZone: m.instance.availabilityZone } : {}),
    markedAt: new Date(m.atMs).toISOString(),
    verdict: markingVerdictOf(m.signal, m.verdict),
    groupAtMark: groupStateOf(m.group),
  };
}

/** The last `n` lines of a console output, without the trailing empty line and carriage returns. */
export function lastLines(text: string, n = lastOutputLines): string[] {
  const lines = text.replace(/\r/g, '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-n);
}

/** The key of an instance's evidence in the bucket. */
export const evidenceKey = (instanceId: string): string => `evidence/${instanceId}.json`;
/** Where an instance's evidence is, as the notice and `autoheal evidence` name it. */
export const evidenceLocation = (bucket: string, instanceId: string): string => `s3://${bucket}/${evidenceKey(instanceId)}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads an evidence document; the reason names what is wrong. Checks what readers rely on (kind,
 * version, ids, the verdict); the rest is shown as written.
 */
export function parseEvidence(text: string): { ok: true; record: EvidenceRecord } | { ok: false; reason: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!isObject(doc)) return { ok: false, reason: 'not a JSON object' };
  if (doc.kind !== 'autoheal.evidence') return { ok: false, reason: 'kind: not "autoheal.evidence"' };
  if (doc.version !== evidenceVersion) return { ok: false, reason: `version: ${JSON.stringify(doc.version)}, this autoheal reads version ${evidenceVersion} (upgrade autoheal)` };
  for (const key of ['instanceId', 'groupName', 'markedAt'] as const) {
    if (typeof doc[key] !== 'string') return { ok: false, reason: `${key}: not a string` };
  }
  if (!isObject(doc.verdict) || typeof doc.verdict.reason !== 'string') return { ok: false, reason: 'verdict: missing or without a reason' };
  if (!isObject(doc.groupAtMark)) return { ok: false, reason: 'groupAtMark: missing' };
  if (doc.capture !== undefined && !isObject(doc.capture)) return { ok: false, reason: 'capture: not an object' };
  return { ok: true, record: doc as unknown as EvidenceRecord };
}

/** Where the evidence lives: the stack's bucket. */
export interface EvidenceStore {
  readonly bucket: string;
  put(record: EvidenceRecord, signal?: AbortSignal): Promise<void>;
  /** The instance's evidence; undefined when there is none (autoheal did not mark it, or it expired). Throws an InvalidInputError on a document it cannot read. */
  get(instanceId: string, signal?: AbortSignal): Promise<EvidenceRecord | undefined>;
}

/** The evidence in an S3 bucket, through the wing (src/aws/s3.ts), signed with `client`'s parts. */
export function s3EvidenceStore(client: SigningClient, bucket: string): EvidenceStore {
  return {
    bucket,
    put: (record, signal) => putObject(client, { bucket, key: evidenceKey(record.instanceId), body: `${JSON.stringify(record, null, 2)}\n` }, signal),
    get: async (instanceId, signal) => {
      const text = await getObject(client, { bucket, key: evidenceKey(instanceId) }, signal);
      if (text === undefined) return undefined;
      const parsed = parseEvidence(text);
      if (!parsed.ok) throw new InvalidInputError(`${evidenceLocation(bucket, instanceId)}: ${parsed.reason}`);
      return parsed.record;
    },
  };
}

/** How long the healer waits to keep a mark's evidence before it marks anyway (one S3 PutObject). */
export const keepEvidenceTimeoutMs = 3_000;

/** The healer's evidence port over the bucket: the mark's document, written before the mark. */
export function s3MarkEvidence(client: SigningClient, bucket: string): MarkEvidencePort {
  const store = s3EvidenceStore(client, bucket);
  return { timeoutMs: keepEvidenceTimeoutMs, keep: (facts, signal) => store.put(markEvidence(facts), signal) };
}
