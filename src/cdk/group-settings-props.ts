/**
 * The settings the stack applies to its named groups at deploy time (`replacement`, and retention
 * on an abandoned termination hook), checked once with the other props (./resolve.ts) and built
 * into the stack by ./group-settings.ts.
 */
import { replacementModes, type ReplacementMode } from '../fleet/replacement.js';
import type { AutoHealProps } from './props.js';

/** What the group settings function applies to each named group. */
export interface GroupSettingsResolved {
  replacement: ReplacementMode;
  /**
   * Keep an instance whose termination hook autoheal abandons (`TerminateHookAbandon: retain`).
   * Not a prop of its own: quarantine `retain` asks for it (./resolve.ts).
   */
  retainOnAbandon: boolean;
}

/** `replacement`, checked; undefined when the stack applies nothing to its groups. */
export function groupSettingsOf(props: AutoHealProps, problems: string[], retainOnAbandon = false): GroupSettingsResolved | undefined {
  const replacement = props.replacement ?? 'unchanged';
  if (!(replacementModes as readonly string[]).includes(replacement)) {
    problems.push(`replacement: must be ${replacementModes.map((m) => `"${m}"`).join(' or ')}, got ${JSON.stringify(replacement)}`);
    return undefined;
  }
  if (replacement === 'unchanged' && !retainOnAbandon) return undefined;
  // Retain alone: evidenceOf already says that quarantine needs named groups.
  if (replacement !== 'unchanged' && (props.groups ?? []).length === 0) {
    problems.push(`replacement: "${replacement}" sets the instance maintenance policy of the groups named in \`groups\`, and none is named`);
  }
  return { replacement, retainOnAbandon };
}
