/**
 * The healer's decision metrics for long-running commands (`bridge --local`), in Prometheus, under
 * the names of the Lambda's EMF metrics (./emf.ts): `autoheal_decisions_total{action, reason}`
 * (autoheal/Decisions by Action, Reason) and `autoheal_decision_ms{action, reason}` (autoheal/DecisionMs).
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { TypedEvents } from '../events.js';
import type { HealerEvents, VerdictRecord } from '../healer/types.js';
import { actionOf } from './emf.js';

/** The same metrics in a Prometheus registry, for long-running commands. Returns the function that unsubscribes. */
export function recordPrometheusDecisions(events: TypedEvents<HealerEvents>, registry: Registry): () => void {
  const count = new Counter({
    name: 'autoheal_decisions_total',
    help: 'Decisions of the healer by action (mark, skip, failed) and reason key (as the Lambda\'s EMF metric autoheal/Decisions).',
    labelNames: ['action', 'reason'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'autoheal_decision_ms',
    help: 'Time per decision (views, decision and remedy) in milliseconds (as the Lambda\'s EMF metric autoheal/DecisionMs).',
    labelNames: ['action', 'reason'] as const,
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers: [registry],
  });
  const one = (r: VerdictRecord): void => {
    const labels = { action: actionOf(r), reason: r.verdict.reason };
    count.inc(labels);
    latency.observe(labels, r.ms);
  };
  const offs = [events.on('healer:verdict:marked', one), events.on('healer:verdict:skipped', one), events.on('healer:mark:failed', one)];
  return () => offs.forEach((off) => off());
}
