/**
 * The settings of evidence before termination (`quarantine`, `evidenceRetention`), checked once
 * with the other props (./resolve.ts) and built into the stack by ./evidence.ts.
 */
import type { AutoHealProps } from './props.js';

/** The evidence settings, defaults applied. */
export interface EvidenceSettings {
  mode: 'capture';
  retentionDays: number;
  /** The termination hook's name on every named group: the stack's own, so two stacks never share one. */
  hookName: string;
}

/** How long the hook holds a terminating instance at most; the function answers within seconds. */
export const evidenceHeartbeatSeconds = 60;
const retentionDays = { default: 30, min: 1, max: 3_650 } as const;
const modes = ['off', 'capture'] as const;

/** `quarantine` and `evidenceRetention`, checked; undefined when evidence is off. */
export function evidenceOf(props: AutoHealProps, stackName: string, problems: string[]): EvidenceSettings | undefined {
  const mode = props.quarantine ?? 'off';
  if (!(modes as readonly string[]).includes(mode)) {
    problems.push(`quarantine: must be ${modes.map((m) => `"${m}"`).join(' or ')}, got ${JSON.stringify(mode)}`);
    return undefined;
  }
  if (mode === 'off') {
    if (props.evidenceRetention !== undefined) problems.push('evidenceRetention: given, but quarantine is "off" (set quarantine: "capture")');
    return undefined;
  }
  const days = props.evidenceRetention?.toDays({ integral: false }) ?? retentionDays.default;
  if (!Number.isInteger(days) || days < retentionDays.min || days > retentionDays.max) {
    problems.push(`evidenceRetention: must be whole days from ${retentionDays.min} to ${retentionDays.max}, got ${days}`);
  }
  if ((props.groups ?? []).length === 0) {
    problems.push('quarantine: "capture" holds the terminations of the groups named in `groups`, and none is named');
  }
  return { mode: 'capture', retentionDays: days, hookName: `autoheal-evidence-${stackName}`.slice(0, 255) };
}
