/**
 * The recovery timeline of a drill round: for every instance a failure was injected into, when
 * each stage of the chain happened, in milliseconds after the injection, and the evidence each
 * replaced instance left (the verdict that marked it, how its process ended, its last output
 * lines: issue 16, locally). It only listens to the typed events of the parts (local group,
 * prober, healer) and to {@link Timeline.noteMessage}, which the demo calls when the bridge hands
 * a queue message to the core.
 */
import type { LocalGroup } from '../fleet/local/local-group.js';
import type { HealerEvents } from '../healer/types.js';
import type { TypedEvents } from '../events.js';
// The verdict's shape is the AWS evidence's (src/operate/evidence.ts).
import { markingVerdict, type MarkingVerdict } from '../operate/evidence.js';
import type { Prober } from '../prober/prober.js';
import type { Injection } from './inject.js';

/** The stages, in the order they happen on the full chain. */
export const stages = [
  'injected',
  'probeFailing',
  'alarmPublished',
  'messageReceived',
  'marked',
  'terminating',
  'replacementInService',
] as const;
export type Stage = (typeof stages)[number];

/** How people read each stage. */
export const stageLabels: Record<Stage, string> = {
  injected: 'failure injected',
  probeFailing: 'probe failing',
  alarmPublished: 'alarm published',
  messageReceived: 'message received',
  marked: 'marked Unhealthy',
  terminating: 'Terminating',
  replacementInService: 'replacement InService',
};

/** One instance's recovery. */
export interface VictimTimeline {
  instanceId: string;
  pid: number;
  /** Its zone, when the group has zones. */
  availabilityZone?: string;
  /** Milliseconds after the injection, per stage reached. */
  stagesMs: Partial<Record<Stage, number>>;
  /** Who marked it: the healer through the fleet port, or the group's own check of an exited process. */
  markedBy?: 'healer' | 'group';
  replacementId?: string;
  /**
   * The wave of marks it was in: a wave takes marks until one of its victims terminates (the
   * budget frees a slot); the next mark starts the next wave. So a wave is never more than the
   * budget, and a mass failure kept within the budget heals in waves, however the terminations
   * and the replacements of one wave interleave with the marks of the next.
   */
  wave?: number;
  /** Verdicts that left it alone for a while (budget spent…), first of each reason. */
  skipped: Array<{ reason: string; detail?: string; ms: number; count: number }>;
  healed: boolean;
}

/** The verdict that marked an instance, with the evidence the healer acted on. */

/** What a replaced instance left behind: why it was marked, how it ended, what it last said. */
export interface InstanceEvidence {
  instanceId: string;
  availabilityZone?: string;
  /** Who marked it: the healer (then `verdict` says why) or the group's own check of an exited process. */
  markedBy?: 'healer' | 'group';
  verdict?: MarkingVerdict;
  /** How its process ended; absent while it still ran when the round ended. */
  exit?: { code: number | null; signal: string | null };
  /** Its last output lines (stdout and stderr), oldest first. */
  lastOutput: string[];
  /** When it was Terminated, in ms after the injection. */
  terminatedMs?: number;
}

/** One round. */
export interface RoundTimeline {
  round: number;
  failure: Injection['mode'];
  injectedAt: string;
  victims: VictimTimeline[];
  /** One entry per victim that was marked, in the victims' order. */
  evidence: InstanceEvidence[];
  healed: boolean;
  /** From the injection until the last replacement was InService (or the round gave up). */
  durationMs: number;
}

interface Sources {
  group: Pick<LocalGroup, 'events'>;
  /** One observer, or several (a stage is reached when the first of them sees it). */
  prober?: Pick<Prober, 'events'> | ReadonlyArray<Pick<Prober, 'events'>>;
  healer?: { events: TypedEvents<HealerEvents> };
}

interface Victim extends VictimTimeline {
  atMs: number;
  verdict?: MarkingVerdict;
  gone?: { atMs: number; exit: { code: number | null; signal: string | null }; lastOutput: string[] };
}


/** Records rounds from the parts' events. {@link Timeline.dispose} unsubscribes. */
export class Timeline {
  private victims = new Map<string, Victim>();
  private current: { round: number; mode: Injection['mode']; atMs: number } | undefined;
  private readonly offs: Array<() => void> = [];
  private waiters: Array<() => void> = [];
  /** The latest wave's victims, its number, and whether it still takes marks (none of it terminated). */
  private waveMembers = new Set<string>();
  private wave = 0;
  private waveOpen = false;
  /** Called after every recorded stage, with the victim and stage (for live output). */
  onStage: ((victim: VictimTimeline, stage: Stage) => void) | undefined;

  constructor(sources: Sources) {
    const { group, prober, healer } = sources;
    this.offs.push(
      group.events.on('group:instance:terminating', (e) => this.reach(e.instanceId, 'terminating', e.atMs)),
      group.events.on('group:instance:marked', (e) => {
        const v = this.victims.get(e.instanceId);
        if (!v || e.status !== 'Unhealthy') return;
        v.markedBy ??= e.by === 'fleet' ? 'healer' : 'group';
        if (v.wave === undefined) {
          if (!this.waveOpen) {
            this.wave++;
            this.waveOpen = true;
            this.waveMembers = new Set();
          }
          v.wave = this.wave;
          this.waveMembers.add(e.instanceId);
        }
        this.reach(e.instanceId, 'marked', e.atMs);
      }),
      group.events.on('group:instance:terminated', (e) => {
        if (this.waveMembers.has(e.instanceId)) this.waveOpen = false;
        const v = this.victims.get(e.instanceId);
        if (v) v.gone = { atMs: e.atMs, exit: { code: e.code, signal: e.signal }, lastOutput: e.lastOutput };
      }),
      group.events.on('group:instance:in-service', (e) => {
        if (!e.replaces) return;
        const v = this.victims.get(e.replaces);
        if (!v || v.replacementId) return;
        v.replacementId = e.instanceId;
        this.reach(e.replaces, 'replacementInService', e.atMs);
      }),
    );
    const probers = prober === undefined ? [] : 'events' in prober ? [prober] : prober;
    for (const p of probers) {
      this.offs.push(
        p.events.on('prober:check:failed', (e) => this.reach(e.instanceId, 'probeFailing', e.atMs)),
        p.events.on('prober:signal:sent', (e) => {
          if (e.signal.state === 'unhealthy') this.reach(e.signal.instanceId, 'alarmPublished', e.atMs);
        }),
      );
    }
    if (healer) {
      this.offs.push(
        healer.events.on('healer:verdict:marked', (r) => {
          const v = this.victims.get(r.signal.instanceId);
          if (v && r.signal.state === 'unhealthy') v.verdict ??= markingVerdict(r);
        }),
        healer.events.on('healer:verdict:skipped', (r) => {
          const v = this.victims.get(r.signal.instanceId);
          if (!v || r.signal.state !== 'unhealthy' || v.stagesMs.marked !== undefined) return;
          const reason = r.verdict.reason;
          const seen = v.skipped.find((s) => s.reason === reason);
          if (seen) seen.count++;
          else v.skipped.push({ reason, ...(r.verdict.detail ? { detail: r.verdict.detail } : {}), ms: Date.now() - v.atMs, count: 1 });
        }),
      );
    }
  }

  /** Starts a round for these injections; earlier rounds' victims are forgotten. */
  startRound(round: number, injections: readonly Injection[]): void {
    const first = injections[0];
    if (!first) throw new RangeError('a round needs at least one injection');
    this.current = { round, mode: first.mode, atMs: Math.min(...injections.map((i) => i.atMs)) };
    this.waveMembers = new Set();
    this.wave = 0;
    this.waveOpen = false;
    this.victims = new Map(
      injections.map((i) => [
        i.instanceId,
        {
          instanceId: i.instanceId,
          pid: i.pid,
          ...(i.availabilityZone !== undefined ? { availabilityZone: i.availabilityZone } : {}),
          atMs: i.atMs,
          stagesMs: { injected: 0 },
          skipped: [],
          healed: false,
        },
      ]),
    );
  }

  /** The bridge handed a message about these instances to the core. */
  noteMessage(instanceIds: readonly string[], atMs = Date.now()): void {
    for (const id of instanceIds) this.reach(id, 'messageReceived', atMs);
  }

  /** Whether every victim of the round has a replacement InService. */
  done(): boolean {
    return this.victims.size > 0 && [...this.victims.values()].every((v) => v.stagesMs.replacementInService !== undefined);
  }

  /** Resolves when {@link done}, or after `timeoutMs` (then the round is not healed), or on abort. */
  async waitDone(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.done()) return true;
    return new Promise<boolean>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(this.done());
      };
      const check = (): void => {
        if (this.done()) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener('abort', finish, { once: true });
      this.waiters.push(check);
    });
  }

  /** The round as recorded so far. */
  result(): RoundTimeline {
    const current = this.current;
    if (!current) throw new RangeError('no round started');
    const all = [...this.victims.values()];
    const victims = all.map(({ atMs: _atMs, verdict: _verdict, gone: _gone, ...v }) => ({
      ...v,
      healed: v.stagesMs.replacementInService !== undefined,
    }));
    const ends = victims.map((v) => v.stagesMs.replacementInService ?? Date.now() - current.atMs);
    return {
      round: current.round,
      failure: current.mode,
      injectedAt: new Date(current.atMs).toISOString(),
      victims,
      evidence: all.filter((v) => v.stagesMs.marked !== undefined).map(evidenceOf),
      healed: victims.every((v) => v.healed),
      durationMs: Math.max(0, ...ends),
    };
  }

  dispose(): void {
    for (const off of this.offs) off();
  }

  private reach(instanceId: string, stage: Stage, atMs: number): void {
    const v = this.victims.get(instanceId);
    if (!v || v.stagesMs[stage] !== undefined) return;
    v.stagesMs[stage] = Math.max(0, atMs - v.atMs);
    try {
      this.onStage?.(v, stage);
    } catch {
      // A display callback must not break recording.
    }
    for (const w of [...this.waiters]) w();
  }
}

function evidenceOf(v: Victim): InstanceEvidence {
  return {
    instanceId: v.instanceId,
    ...(v.availabilityZone !== undefined ? { availabilityZone: v.availabilityZone } : {}),
    ...(v.markedBy !== undefined ? { markedBy: v.markedBy } : {}),
    ...(v.verdict ? { verdict: v.verdict } : {}),
    ...(v.gone ? { exit: v.gone.exit, terminatedMs: Math.max(0, v.gone.atMs - v.atMs) } : {}),
    lastOutput: v.gone?.lastOutput ?? [],
  };
}
