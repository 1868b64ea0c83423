/**
 * A drill: rounds of "inject a failure, wait for the group to heal", recorded on a
 * {@link Timeline}. Shared by `autoheal demo` and bench/recovery.ts. The parts (group, prober,
 * healer, bridge) are wired by the caller; {@link followGroup} keeps the prober's targets equal
 * to the group's InService instances.
 */
import type { LocalGroup, LocalInstance } from '../fleet/local/local-group.js';
import type { Prober } from '../prober/prober.js';
import type { ProbeTarget } from '../prober/options.js';
import { injectFailure, type FailureMode, type Injection } from './inject.js';
import type { RoundTimeline, Timeline } from './timeline.js';

/** The probe targets of a group: its InService instances on loopback. */
export function probeTargetsOf(group: Pick<LocalGroup, 'instances' | 'name'>): ProbeTarget[] {
  return group
    .instances()
    .filter((i) => i.lifecycleState === 'InService')
    .map((i) => ({ instanceId: i.instanceId, host: '127.0.0.1', port: i.port, group: group.name }));
}

/** Keeps the prober's targets equal to the group's InService instances; returns the unsubscribe function. */
export function followGroup(group: Pick<LocalGroup, 'instances' | 'events' | 'name'>, prober: Pick<Prober, 'setTargets'>): () => void {
  const sync = (): void => prober.setTargets(probeTargetsOf(group));
  const offs = [
    group.events.on('group:instance:in-service', sync),
    group.events.on('group:instance:terminating', sync),
    group.events.on('group:instance:terminated', sync),
  ];
  sync();
  return () => offs.forEach((off) => off());
}

/** Options of {@link runDrill}. */
export interface DrillOptions {
  rounds: number;
  failure: FailureMode;
  /** Share of the group to fail at once (0 < mass ≤ 1); default: one instance per round. */
  mass?: number;
  /** Fail every instance of this zone at once (instead of one, or the `mass` share). */
  zone?: string;
  /** A round that has not healed after this is recorded as not healed. */
  roundTimeoutMs: number;
  /** How long to wait for the group to be whole before a round. */
  settleTimeoutMs: number;
  signal?: AbortSignal;
  /** Called with the instances a round fails, before anything else sees them (false-mark accounting). */
  onInjected?: (instanceIds: readonly string[]) => void;
  onRoundStart?: (round: number, injections: readonly Injection[]) => void;
  onRoundEnd?: (result: RoundTimeline) => void;
}

/** How many instances a round fails: one, or `round(mass × desired)` (at least one). */
export function victimCount(desired: number, mass: number | undefined): number {
  if (mass === undefined) return Math.min(1, desired);
  return Math.min(desired, Math.max(1, Math.round(mass * desired)));
}

/** Runs the rounds; resolves with each round's timeline (stops early when `signal` aborts). */
export async function runDrill(
  group: Pick<LocalGroup, 'instances' | 'pidOf' | 'whenSettled' | 'desiredCapacity'>,
  timeline: Timeline,
  options: DrillOptions,
): Promise<RoundTimeline[]> {
  const results: RoundTimeline[] = [];
  for (let round = 1; round <= options.rounds && !options.signal?.aborted; round++) {
    await group.whenSettled(options.settleTimeoutMs, options.signal);
    const chosen = victims(group, options);
    options.onInjected?.(chosen.map((i) => i.instanceId));
    const injections = chosen.map((i) => ({
      ...injectFailure(group, i.instanceId, options.failure),
      ...(i.availabilityZone !== undefined ? { availabilityZone: i.availabilityZone } : {}),
    }));
    timeline.startRound(round, injections);
    options.onRoundStart?.(round, injections);
    await timeline.waitDone(options.roundTimeoutMs, options.signal);
    const result = timeline.result();
    results.push(result);
    options.onRoundEnd?.(result);
  }
  return results;
}

/** The instances a round fails: every serving one of `zone`, or `victimCount` serving ones at random. */
function victims(group: Pick<LocalGroup, 'instances' | 'desiredCapacity'>, options: Pick<DrillOptions, 'mass' | 'zone'>): LocalInstance[] {
  const serving = group.instances().filter((i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy');
  if (options.zone !== undefined) return serving.filter((i) => i.availabilityZone === options.zone);
  return shuffle(serving).slice(0, Math.min(serving.length, victimCount(group.desiredCapacity, options.mass)));
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
