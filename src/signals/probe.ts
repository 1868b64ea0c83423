import type { HealthSignal } from './types.js';

/** One verdict of autoheal's prober about one target: a transition between healthy and unhealthy. */
export interface ProbeObservation {
  instanceId: string;
  healthy: boolean;
  /** What was probed, e.g. `http://127.0.0.1:41234/health`. */
  target: string;
  /** When the transition was observed, ISO 8601. */
  observedAt: string;
  /** Why, e.g. `3 consecutive failures: timeout after 1000 ms`. */
  detail: string;
  /** Per-target transition counter; makes the event id unique: `probe:${instanceId}:${sequence}`. */
  sequence: number;
  /** The observer that probed (the healer's quorum counts distinct observers). */
  observer?: string;
}

/** Turns a probe verdict into a signal (source `probe`, instance id from the probe target). */
export function probeSignal(o: ProbeObservation): HealthSignal {
  return {
    instanceId: o.instanceId,
    state: o.healthy ? 'healthy' : 'unhealthy',
    source: 'probe',
    observedAt: o.observedAt,
    eventId: `probe:${o.observer ? `${o.observer}:` : ''}${o.instanceId}:${o.sequence}`,
    reason: o.detail ? `${o.target}: ${o.detail}` : o.target,
    instanceIdFrom: 'probe-target',
    ...(o.observer ? { observer: o.observer } : {}),
  };
}
