/**
 * The settings of evidence before termination (`quarantine`, `evidenceRetention`, `retainAtMost`),
 * checked once with the other props (./resolve.ts) and built into the stack by ./evidence.ts.
 */
import { retainAtMostLimits, retainAtMostProblem } from '../config.js';
import { evidenceHeartbeatSeconds } from '../evidence/event.js';
import type { AutoHealProps } from './props.js';

export { evidenceHeartbeatSeconds };

/** The evidence settings, defaults applied. */
export interface EvidenceSettings {
  /** `retain` does all `capture` does, and keeps up to `retainAtMost` marked instances per group. */
  mode: 'capture' | 'retain';
  retentionDays: number;
  /** The termination hook's name on every named group: the stack's own, so two stacks never share one. */
  hookName: string;
  /**
   * With `retain`: retained instances per group at most. The named groups need an instance
   * lifecycle policy retaining on an abandoned termination hook (TerminateHookAbandon: retain);
   * without it an abandon terminates, and the evidence function continues instead.
   */
  retainAtMost?: number;
}

const retentionDays = { default: 30, min: 1, max: 3_650 } as const;
const modes = ['off', 'capture', 'retain'] as const;

/** `quarantine`, `evidenceRetention` and `retainAtMost`, checked; undefined when evidence is off. */
export function evidenceOf(props: AutoHealProps, stackName: string, problems: string[]): EvidenceSettings | undefined {
  const mode = props.quarantine ?? 'off';
  if (!(modes as readonly string[]).includes(mode)) {
    problems.push(`quarantine: must be ${modes.map((m) => `"${m}"`).join(', ')}, got ${JSON.stringify(mode)}`);
    return undefined;
  }
  if (mode !== 'retain' && props.retainAtMost !== undefined) {
    problems.push(`retainAtMost: given, but quarantine is "${mode}" (set quarantine: "retain" to keep marked instances)`);
  }
  if (mode === 'off') {
    if (props.evidenceRetention !== undefined) problems.push('evidenceRetention: given, but quarantine is "off" (set quarantine: "capture" or "retain")');
    return undefined;
  }
  const days = props.evidenceRetention?.toDays({ integral: false }) ?? retentionDays.default;
  if (!Number.isInteger(days) || days < retentionDays.min || days > retentionDays.max) {
    problems.push(`evidenceRetention: must be whole days from ${retentionDays.min} to ${retentionDays.max}, got ${days}`);
  }
  if ((props.groups ?? []).length === 0) {
    problems.push(`quarantine: "${mode}" holds the terminations of the groups named in \`groups\`, and none is named`);
  }
  const hookName = `autoheal-evidence-${stackName}`.slice(0, 255);
  if (mode === 'capture') return { mode, retentionDays: days, hookName };
  const retainAtMost = props.retainAtMost ?? retainAtMostLimits.default;
  const problem = retainAtMostProblem(retainAtMost);
  if (problem !== undefined) problems.push(`retainAtMost: ${problem}`);
  return { mode, retentionDays: days, hookName, retainAtMost };
}
