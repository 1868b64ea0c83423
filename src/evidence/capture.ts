/**
 * What the evidence function does with one termination lifecycle action, while Auto Scaling holds
 * the instance in Terminating:Wait:
 *
 *   evidence document?  no  → CONTINUE at once (not autoheal's: a scale-in, a rebalance, a person)
 *                       yes → console output (EC2 GetConsoleOutput, the latest) and the group's
 *                             state now → the document, completed → CONTINUE
 *   quarantine `retain` → a slot free among the group's N (./retention.ts)? the document says
 *                             `retained`, completed → ABANDON: the group's instance lifecycle
 *                             policy keeps the instance (Terminating:Retained). Otherwise as above,
 *                             the document saying why it was not kept.
 *
 * The healer writes the document before it marks (src/operate/evidence.ts), so its existence is
 * what says the termination is autoheal's. Every step is bounded and what fails is written down
 * instead of holding the termination: the action is always completed, with CONTINUE whenever
 * anything about retaining failed, and should completing fail the hook's own short timeout and its
 * default result (CONTINUE) let the termination go on.
 */
import { completeLifecycleAction, describeAutoScalingGroups, type AutoScalingClient, type Group } from '../aws/autoscaling.js';
import { getConsoleOutput } from '../aws/ec2.js';
import { describeError, isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import { evidenceLocation, lastLines, type EvidenceCapture, type EvidenceRecord, type EvidenceStore, type GroupState } from '../operate/evidence.js';
import { retainedNotice, type NoticePublisher } from '../operate/notices.js';
import { parseTerminateAction, type TerminateAction } from './event.js';
import { planRetention, releaseCommand, type RetainDeps } from './retain.js';

/** What the function did with one action. */
export type CaptureOutcome =
  | { instanceId: string; outcome: 'notMarked'; completed: 'completed' | 'gone' }
  | { instanceId: string; outcome: 'captured'; location: string; notRetained?: string; completed: 'completed' | 'gone' }
  | { instanceId: string; outcome: 'retained'; location: string; release: string; completed: 'completed' | 'gone' }
  | { instanceId: string; outcome: 'released'; completed: 'completed' | 'gone' }
  | { instanceId: string; outcome: 'notKept'; error: string; completed: 'completed' | 'gone' };

export interface CaptureDeps {
  autoScaling: AutoScalingClient;
  store: EvidenceStore;
  logger: Logger;
  clock?: () => number;
  /** Quarantine `retain`: keep up to N marked instances per group (./retain.ts); absent: `capture`. */
  retain?: RetainDeps;
  /** Where the notice of a retained instance goes (the stack's alert topic); absent: logged only. */
  publish?: NoticePublisher;
}

function groupStateOfGroup(g: Group): GroupState {
  return {
    name: g.name,
    desiredCapacity: g.desiredCapacity,
    healthCheckGracePeriodSeconds: g.healthCheckGracePeriodSeconds,
    suspendedProcesses: g.suspendedProcesses,
    instances: g.instances.map((i) => ({
      instanceId: i.instanceId,
      lifecycleState: i.lifecycleState,
      healthStatus: i.healthStatus,
      ...(i.availabilityZone ? { availabilityZone: i.availabilityZone } : {}),
    })),
  };
}

/** The console output and the group's state, each or why it could not be read; and the group as read. */
async function take(deps: CaptureDeps, action: TerminateAction, signal?: AbortSignal): Promise<{ capture: EvidenceCapture; group?: Group }> {
  const [output, groups] = await Promise.allSettled([
    getConsoleOutput(deps.autoScaling, action.instanceId, signal),
    describeAutoScalingGroups(deps.autoScaling, { names: [action.groupName] }, signal),
  ]);
  const group = groups.status === 'fulfilled' ? groups.value.find((g) => g.name === action.groupName) : undefined;
  const capture: EvidenceCapture = {
    at: new Date((deps.clock ?? Date.now)()).toISOString(),
    hookName: action.hookName,
    result: 'CONTINUE',
    consoleOutput:
      output.status === 'fulfilled'
        ? { ...(output.value.takenAt ? { takenAt: output.value.takenAt } : {}), latest: output.value.latest, bytes: Buffer.byteLength(output.value.text) }
        : { error: describeError(output.reason) },
    lastOutput: output.status === 'fulfilled' ? lastLines(output.value.text) : [],
    ...(group
      ? { group: groupStateOfGroup(group) }
      : { groupError: groups.status === 'rejected' ? describeError(groups.reason) : `group ${action.groupName} not found` }),
  };
  return { capture, ...(group ? { group } : {}) };
}

/** Lets the termination go on; a failure to say so is the caller's (the hook's default result covers it). */
const complete = (deps: CaptureDeps, action: TerminateAction, signal?: AbortSignal) =>
  completeLifecycleAction(deps.autoScaling, action, signal);

/**
 * Abandons the action: the group's lifecycle policy retains the instance. Should that fail, the
 * document is put right (best effort) and the action continued: a failure never keeps an instance.
 */
async function abandon(deps: CaptureDeps, action: TerminateAction, kept: EvidenceRecord, free: () => Promise<void>, signal?: AbortSignal): Promise<'completed' | 'gone'> {
  try {
    const done = await completeLifecycleAction(deps.autoScaling, action, signal, 'ABANDON');
    // Gone: the hook had already continued by itself, so nothing is kept and there is nothing to announce.
    if (done === 'completed') await announce(deps, action, kept);
    return done;
  } catch (error) {
    const why = `abandon failed: ${describeError(error)}`;
    deps.logger.error({ instanceId: action.instanceId, group: action.groupName, error: describeError(error) }, 'evidence: could not abandon for retention; termination continues');
    if (kept.capture) {
      const capture: EvidenceCapture = { ...kept.capture, result: 'CONTINUE', notRetained: why };
      delete capture.retained;
      delete capture.release;
      // Best effort: the termination must go on whether or not the document can be put right.
      await deps.store.put({ ...kept, capture }, signal).catch(() => undefined);
    }
    await free();
    return complete(deps, action, signal);
  }
}

/** The notice of a retained instance, best effort: a failed publish is logged, the instance stays kept. */
async function announce(deps: CaptureDeps, action: TerminateAction, kept: EvidenceRecord): Promise<void> {
  if (deps.publish === undefined || kept.capture?.release === undefined) return;
  const notice = retainedNotice(action.groupName, action.instanceId, evidenceLocation(deps.store.bucket, action.instanceId), kept.capture.release);
  try {
    await deps.publish(notice);
  } catch (error) {
    deps.logger.warn({ instanceId: action.instanceId, group: action.groupName, error: describeError(error) }, 'evidence: notice of the retained instance not sent; it is kept all the same');
  }
}

/** Captures the evidence of an instance autoheal marked, then completes its termination action. */
export async function captureTermination(deps: CaptureDeps, action: TerminateAction, signal?: AbortSignal): Promise<CaptureOutcome> {
  const { logger, store } = deps;
  const where = { instanceId: action.instanceId, group: action.groupName };
  let record;
  try {
    record = await store.get(action.instanceId, signal);
  } catch (error) {
    // Unknown whether autoheal marked it: nothing is held for a question evidence cannot answer.
    logger.error({ ...where, error: describeError(error) }, 'evidence: could not read the mark; termination continues');
    return { instanceId: action.instanceId, outcome: 'notKept', error: describeError(error), completed: await complete(deps, action, signal) };
  }
  if (record === undefined) {
    logger.info(where, 'evidence: termination autoheal did not cause; continues at once');
    return { instanceId: action.instanceId, outcome: 'notMarked', completed: await complete(deps, action, signal) };
  }
  const { capture, group } = await take(deps, action, signal);
  const plan = deps.retain ? await planRetention(deps.retain, { action, group, at: capture.at, logger, signal }) : undefined;
  if (plan?.name === 'release') {
    // The instance was kept by an earlier action: this termination is its release. Its document stays as it was.
    logger.info(where, 'evidence: a retained instance is released; termination continues');
    return { instanceId: action.instanceId, outcome: 'released', completed: await complete(deps, action, signal) };
  }
  const release = releaseCommand(action.instanceId, deps.retain?.region);
  const kept: EvidenceRecord = {
    ...record,
    capture: plan?.name === 'retain' ? { ...capture, result: 'ABANDON', retained: true, release } : { ...capture, ...(plan?.name === 'continue' ? { notRetained: plan.why } : {}) },
  };
  try {
    await store.put(kept, signal);
  } catch (error) {
    logger.error({ ...where, error: describeError(error) }, 'evidence: capture not written; termination continues');
    if (plan?.name === 'retain') await plan.free();
    return { instanceId: action.instanceId, outcome: 'notKept', error: describeError(error), completed: await complete(deps, action, signal) };
  }
  const location = evidenceLocation(store.bucket, action.instanceId);
  const consoleBytes = 'bytes' in capture.consoleOutput ? capture.consoleOutput.bytes : 0;
  if (plan?.name === 'retain') {
    logger.warn({ ...where, location, consoleBytes, release }, `evidence: captured; instance kept for inspection (Terminating:Retained), running and billed until released: ${release}`);
    return { instanceId: action.instanceId, outcome: 'retained', location, release, completed: await abandon(deps, action, kept, plan.free, signal) };
  }
  logger.info({ ...where, location, consoleBytes, ...(plan ? { notRetained: plan.why } : {}) }, 'evidence: captured; termination continues');
  return { instanceId: action.instanceId, outcome: 'captured', location, ...(plan ? { notRetained: plan.why } : {}), completed: await complete(deps, action, signal) };
}

/** What one invocation returns: what it did, or why the event was not a termination action. */
export type EvidenceSummary = CaptureOutcome | { rejected: string };

/** Builds the handler from its parts (tests pass their own). */
export function createEvidenceHandler(deps: CaptureDeps) {
  return async (event: unknown): Promise<EvidenceSummary> => {
    const parsed = parseTerminateAction(event);
    if (!parsed.ok) {
      // No retry can make it parse; EventBridge's rule only sends termination actions.
      deps.logger.warn({ reason: parsed.reason }, 'evidence: not a termination lifecycle action; ignored');
      return { rejected: parsed.reason };
    }
    try {
      return await captureTermination(deps, parsed.action);
    } catch (error) {
      if (isRetryable(error)) throw error;
      deps.logger.error({ instanceId: parsed.action.instanceId, error: describeError(error) }, 'evidence: could not complete the lifecycle action; the hook times out and continues');
      return { rejected: `complete failed: ${describeError(error)}` };
    }
  };
}
