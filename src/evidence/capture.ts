/**
 * What the evidence function does with one termination lifecycle action, while Auto Scaling holds
 * the instance in Terminating:Wait:
 *
 *   evidence document?  no  → CONTINUE at once (not autoheal's: a scale-in, a rebalance, a person)
 *                       yes → console output (EC2 GetConsoleOutput, the latest) and the group's
 *                             state now → the document, completed → CONTINUE
 *
 * The healer writes the document before it marks (src/operate/evidence.ts), so its existence is
 * what says the termination is autoheal's. Every step is bounded and what fails is written down
 * instead of holding the termination: the action is always completed, and should completing fail
 * the hook's own short timeout and its default result (CONTINUE) let the termination go on.
 */
import { completeLifecycleAction, describeAutoScalingGroups, type AutoScalingClient, type Group } from '../aws/autoscaling.js';
import { getConsoleOutput } from '../aws/ec2.js';
import { describeError, isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import { evidenceLocation, lastLines, type EvidenceCapture, type EvidenceStore, type GroupState } from '../operate/evidence.js';
import { parseTerminateAction, type TerminateAction } from './event.js';

/** What the function did with one action. */
export type CaptureOutcome =
  | { instanceId: string; outcome: 'notMarked'; completed: 'completed' | 'gone' }
  | { instanceId: string; outcome: 'captured'; location: string; completed: 'completed' | 'gone' }
  | { instanceId: string; outcome: 'notKept'; error: string; completed: 'completed' | 'gone' };

export interface CaptureDeps {
  autoScaling: AutoScalingClient;
  store: EvidenceStore;
  logger: Logger;
  clock?: () => number;
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

/** The console output and the group's state, each or why it could not be read. */
async function take(deps: CaptureDeps, action: TerminateAction, signal?: AbortSignal): Promise<EvidenceCapture> {
  const [output, groups] = await Promise.allSettled([
    getConsoleOutput(deps.autoScaling, action.instanceId, signal),
    describeAutoScalingGroups(deps.autoScaling, { names: [action.groupName] }, signal),
  ]);
  const group = groups.status === 'fulfilled' ? groups.value.find((g) => g.name === action.groupName) : undefined;
  return {
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
}

/** Lets the termination go on; a failure to say so is the caller's (the hook's default result covers it). */
const complete = (deps: CaptureDeps, action: TerminateAction, signal?: AbortSignal) =>
  completeLifecycleAction(deps.autoScaling, action, signal);

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
  const capture = await take(deps, action, signal);
  try {
    await store.put({ ...record, capture }, signal);
  } catch (error) {
    logger.error({ ...where, error: describeError(error) }, 'evidence: capture not written; termination continues');
    return { instanceId: action.instanceId, outcome: 'notKept', error: describeError(error), completed: await complete(deps, action, signal) };
  }
  const location = evidenceLocation(store.bucket, action.instanceId);
  logger.info({ ...where, location, consoleBytes: 'bytes' in capture.consoleOutput ? capture.consoleOutput.bytes : 0 }, 'evidence: captured; termination continues');
  return { instanceId: action.instanceId, outcome: 'captured', location, completed: await complete(deps, action, signal) };
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
