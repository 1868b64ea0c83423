/**
 * Decision metrics: one EMF line per decision in the Lambda (namespace autoheal, Decisions and
 * DecisionMs by Action and Reason), and the same names in Prometheus for long-running commands.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createHealer } from '../../src/healer/healer.js';
import { recordPrometheusDecisions } from '../../src/operate/decision-metrics.js';
import { emitEmfDecisions } from '../../src/operate/emf.js';
import { policyOptionsSchema } from '../../src/policy/options.js';
import { parseEvent } from '../../src/signals/index.js';
import { statusCheckAlarmMessage } from '../helpers/events.js';
import { MemoryFleet } from '../helpers/memory-fleet.js';

const ids = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'];

describe('decision metrics', () => {
  it('writes one EMF document per decision and counts the same decisions in Prometheus', async () => {
    // Prepare: a group of 3 (budget 1): the first alarm marks, the second is held by the budget.
    const fleet = new MemoryFleet([{ name: 'workers', instances: ids }]);
    const healer = createHealer({ fleet, policy: policyOptionsSchema.parse({}) });
    const lines: string[] = [];
    emitEmfDecisions(healer.events, (line) => lines.push(line), () => 1_700_000_000_000);
    const registry = new Registry();
    recordPrometheusDecisions(healer.events, registry);

    // Act
    await healer.handleSignals(ids.slice(0, 2).flatMap((id) => parseEvent(statusCheckAlarmMessage(id)).signals));

    // Assess
    const docs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(docs.map((d) => [d.Action, d.Reason, d.Decisions])).toEqual([
      ['mark', 'unhealthy', 1],
      ['skip', 'budgetSpent', 1],
    ]);
    expect(docs[0]?._aws).toEqual({
      Timestamp: 1_700_000_000_000,
      CloudWatchMetrics: [
        {
          Namespace: 'autoheal',
          Dimensions: [['Action', 'Reason'], ['Action']],
          Metrics: [
            { Name: 'Decisions', Unit: 'Count' },
            { Name: 'DecisionMs', Unit: 'Milliseconds' },
          ],
        },
      ],
    });
    expect(typeof docs[0]?.DecisionMs).toBe('number');
    const text = await registry.metrics();
    expect(text).toContain('autoheal_decisions_total{action="mark",reason="unhealthy"} 1');
    expect(text).toContain('autoheal_decisions_total{action="skip",reason="budgetSpent"} 1');
    expect(text).toContain('autoheal_decision_ms_count{action="skip",reason="budgetSpent"} 1');
  });
});
