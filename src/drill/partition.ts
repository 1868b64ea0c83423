/**
 * `--failure observer-partition` and `observer-blind`: observers cut off from a healthy group for
 * a while (blind: from before their first check), and what that did. The instances stay healthy, so whatever is marked meanwhile is a false mark; the run
 * holds when nothing is marked with a quorum, or no more than the budget with one observer.
 */
import { unhealthyBudget } from '../policy/budget.js';
import type { DemoNotes } from './demo-healing.js';
import type { DemoResult } from './demo-result.js';
import { abortableDelay, type DemoRun } from './demo-run.js';

export async function runPartition(run: DemoRun, notes: DemoNotes, quorum: number): Promise<NonNullable<DemoResult['partition']>> {
  const { options } = run;
  const from = notes.decisions.length;
  await abortableDelay(options.partitionMs, run.signal);
  const during = notes.decisions.slice(from);
  const marked = [...new Set(during.filter((d) => d.action === 'marked').map((d) => d.instanceId))];
  const budget = unhealthyBudget(options.instances, options.maxUnhealthyShare);
  return {
    durationMs: options.partitionMs,
    budget,
    marked,
    withheld: notes.observerLog.filter((n) => n.event === 'withheld').length,
    unreachable: notes.observerLog.flatMap((n) => (n.event === 'unreachable' && n.group ? [{ observer: n.observer, group: n.group, reason: n.reason ?? '' }] : [])),
    outvoted: during.filter((d) => d.reason === 'awaitingQuorum').length,
    frozen: during.filter((d) => d.reason === 'frozen').length,
    held: quorum > 1 ? marked.length === 0 : marked.length <= budget,
  };
}
