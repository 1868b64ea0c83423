/**
 * The demo's healing side: the healer over the local group (its decisions, and the evidence of
 * each instance it replaced, written to a file `autoheal history --file` reads), and the
 * observers, each its own prober with its own name, publishing to the topic; the healer marks
 * when `quorum` of them agree. A single observer marks alone (quorum 1). What the observers and
 * the healer do is noted for the timeline and the JSON.
 */
import type { SigningClient } from '../aws/query.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalGroup } from '../fleet/local/local-group.js';
import type { Healer } from '../healer/types.js';
import { appendEvidence, recordDecisions } from '../operate/history.js';
import type { ProberOptionsInput } from '../prober/options.js';
import { runDefaultCheck, startProber, type Prober, type ProberDeps } from '../prober/prober.js';
import { snsSink } from '../prober/sinks.js';
import { createLocalHealer } from '../runtime/local.js';
import { followGroup } from './drill.js';
import { demoDefaults, drillRails, relaxesRails } from './demo-options.js';
import { noteCap, type DecisionNote, type DemoResult, type FalseMark, type ObserverNote } from './demo-result.js';
import type { DemoRun } from './demo-run.js';

/** What the run notes as it goes, capped at {@link noteCap} each (a long run must not grow without bound). */
export interface DemoNotes {
  startedMs: number;
  observerLog: ObserverNote[];
  decisions: DecisionNote[];
  falseMarks: FalseMark[];
  /** Every instance the demo failed on purpose. */
  failed: Set<string>;
}

export function newNotes(): DemoNotes {
  return { startedMs: Date.now(), observerLog: [], decisions: [], falseMarks: [], failed: new Set() };
}

const note = <T>(list: T[], item: T): void => {
  if (list.length < noteCap) list.push(item);
};

/** Where the observers publish. */
export interface Topic {
  sns: SigningClient;
  topicArn: string;
  region: string;
  accountId: string;
}

export interface Healing {
  healer: Healer;
  probers: Prober[];
  /** The observers cut off from the group: their checks time out while listed here. */
  cut: Set<string>;
  decisionsFile: string;
  observers: DemoResult['observers'];
}

/** The demo's prober settings; bench/recovery.ts's in-process baseline uses them too, so both measure the same prober. */
export function drillProberOptions(intervalMs: number, unhealthyThreshold: number, timeoutMs: number): ProberOptionsInput {
  return {
    intervalMs,
    timeoutMs,
    unhealthyThreshold,
    healthyThreshold: 2,
    // An instance skipped for budget is sent again soon, so the next wave can take it.
    repeatUnhealthyAfterMs: Math.max(500, intervalMs * unhealthyThreshold),
  };
}

/** Starts the healer and the observers; their stops are on the run's clean-ups. */
export function startHealing(run: DemoRun, group: LocalGroup, topic: Topic, notes: DemoNotes): Healing {
  const { options, logger, cleanups } = run;
  const quorum = Math.min(2, options.observers);
  const healer = createLocalHealer({
    group,
    policy: { maxUnhealthyShare: options.maxUnhealthyShare, probeQuorum: quorum, ...(relaxesRails(options) ? drillRails : {}) },
    logger,
  });
  const decisionsFile = join(mkdtempSync(join(tmpdir(), 'autoheal-demo-')), 'decisions.jsonl');
  writeFileSync(decisionsFile, '');
  cleanups.push(recordDecisions(healer.events, decisionsFile), recordEvidence(group, healer, decisionsFile));
  const names = Array.from({ length: options.observers }, (_, k) => `observer-${k + 1}`);
  // observer-blind: the first observer is cut off before its first check, so it never sees the group answer.
  const cut = new Set<string>(options.failure === 'observer-blind' ? names.slice(0, Math.max(1, options.partition)) : []);
  const probers = names.map((observer) => startObserver(run, group, topic, observer, cut));
  noteObservers(probers, notes);
  noteDecisions(healer, notes);
  const observers: DemoResult['observers'] = {
    count: options.observers,
    quorum,
    names,
    cut: [],
    selfCheck: options.selfCheck,
    note:
      quorum === 1
        ? 'one observer: quorum 1, its verdicts mark alone (only its self-check and the core rails stand in the way)'
        : `${options.observers} observers, quorum ${quorum}: one observer alone can report, never mark`,
  };
  return { healer, probers, cut, decisionsFile, observers };
}

function startObserver(run: DemoRun, group: LocalGroup, topic: Topic, observer: string, cut: ReadonlySet<string>): Prober {
  const { options, logger, cleanups } = run;
  const probeTimeoutMs = options.probeTimeoutMs ?? Math.max(10, Math.min(demoDefaults.probeTimeoutMs, Math.floor(options.intervalMs * 0.8)));
  // The black hole: while cut, a check waits its timeout and fails as a dropped SYN would.
  const check: NonNullable<ProberDeps['check']> = (target, timeoutMs, agent) =>
    cut.has(observer)
      ? new Promise((resolve) => setTimeout(() => resolve({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs))
      : runDefaultCheck(target, timeoutMs, agent);
  const prober = startProber(
    {
      ...drillProberOptions(options.intervalMs, options.unhealthyThreshold, probeTimeoutMs),
      observer,
      // Without the self-check, nothing in the observer stops it: the core's rails alone.
      ...(options.selfCheck ? {} : { maxLatenessMs: 3_600_000, cutOffMinTargets: 1_000_000, lossyMinTargets: 1_000_000 }),
    },
    { sink: snsSink({ client: topic.sns, topicArn: topic.topicArn, accountId: topic.accountId }), region: topic.region, logger, check },
  );
  cleanups.push(() => prober.stop());
  cleanups.push(followGroup(group, prober));
  return prober;
}

function noteObservers(probers: readonly Prober[], notes: DemoNotes): void {
  const { startedMs, observerLog } = notes;
  for (const p of probers) {
    const observer = p.options.observer;
    p.events.on('prober:observer:degraded', (e) => note(observerLog, { ms: e.atMs - startedMs, observer, event: 'degraded', reasons: e.reasons }));
    p.events.on('prober:observer:recovered', (e) => note(observerLog, { ms: e.atMs - startedMs, observer, event: 'recovered' }));
    p.events.on('prober:signal:withheld', (e) =>
      note(observerLog, { ms: e.atMs - startedMs, observer, event: 'withheld', instanceId: e.instanceId, reasons: e.reasons }),
    );
    p.events.on('prober:group:unreachable', (e) => note(observerLog, { ms: e.atMs - startedMs, observer, event: 'unreachable', group: e.group, reason: e.reason }));
    p.events.on('prober:signal:sent', (e) =>
      note(observerLog, { ms: e.atMs - startedMs, observer, event: 'sent', instanceId: e.signal.instanceId, state: e.signal.state }),
    );
  }
}

function noteDecisions(healer: Healer, notes: DemoNotes): void {
  const recordDecision = (action: 'marked' | 'skipped') => (r: { signal: { instanceId: string; state: string }; verdict: { reason: string; detail?: string } }) => {
    if (r.signal.state !== 'unhealthy') return;
    const ms = Date.now() - notes.startedMs;
    note(notes.decisions, { ms, instanceId: r.signal.instanceId, action, reason: r.verdict.reason, ...(r.verdict.detail ? { detail: r.verdict.detail } : {}) });
    if (action === 'marked' && !notes.failed.has(r.signal.instanceId)) notes.falseMarks.push({ instanceId: r.signal.instanceId, ms });
  };
  healer.events.on('healer:verdict:marked', recordDecision('marked'));
  healer.events.on('healer:verdict:skipped', recordDecision('skipped'));
}

/**
 * Writes, beside the decisions, what each instance the healer marked left when it was replaced
 * (issue 16, locally): `autoheal history --file` shows it under the mark. Returns the unsubscribe.
 */
function recordEvidence(group: LocalGroup, healer: Healer, file: string): () => void {
  const marked = new Set<string>();
  const offs = [
    healer.events.on('healer:verdict:marked', (r) => marked.add(r.signal.instanceId)),
    group.events.on('group:instance:terminated', (e) => {
      if (!marked.delete(e.instanceId)) return;
      const zone = group.instance(e.instanceId)?.availabilityZone;
      appendEvidence(file, {
        atMs: e.atMs,
        group: group.name,
        instanceId: e.instanceId,
        exit: { code: e.code, signal: e.signal },
        lastOutput: e.lastOutput,
        ...(zone !== undefined ? { availabilityZone: zone } : {}),
      });
    }),
  ];
  return () => offs.forEach((off) => off());
}
