/**
 * What `autoheal demo` shows people: a live view of the group (instances, lifecycle, health, last
 * probe), redrawn in place on a terminal and written as plain lines otherwise; the timeline of
 * each round; a summary. Machines read `--json` instead.
 */
import { describeExit } from '../fleet/local/group-events.js';
import type { LocalInstance } from '../fleet/local/local-group.js';
import { cutMethod, type DemoOptions, type DemoParts, type DemoResult } from './demo.js';
import { isObserverFailure, relaxesRails } from './demo-options.js';
import type { Injection } from './inject.js';
import { stageLabels, stages, type InstanceEvidence, type RoundTimeline } from './timeline.js';

/** The display's callbacks, in the order the demo calls them. */
export interface DemoView {
  ready(parts: DemoParts, options: DemoOptions): void;
  roundStart(round: number, total: number, injections: readonly Injection[]): void;
  roundEnd(round: RoundTimeline): void;
  summary(result: DemoResult): void;
  close(): void;
}

const injectedHow: Record<Injection['mode'], string> = {
  freeze: 'SIGSTOP: alive, answers nothing',
  crash: 'SIGKILL',
  sick: 'SIGUSR1: /health answers 503',
};

const pad = (text: string | number, width: number): string => String(text).padEnd(width);
const ms = (value: number): string => `${String(Math.round(value)).padStart(6)} ms`;

/** How many of a replaced instance's last output lines the timeline prints (the JSON has them all). */
const shownOutputLines = 5;

/** One line per instance: id, zone (when the group has zones), lifecycle, health, pid:port, last probe. */
function instanceLine(i: LocalInstance, parts: DemoParts, nowMs: number, zoned: boolean): string {
  const last = parts.prober.lastCheck(i.instanceId);
  const probe = last
    ? `${last.ok ? 'ok  ' : 'FAIL'} ${Math.round(last.ms)} ms${last.error ? ` (${last.error})` : ''}, ${((nowMs - last.atMs) / 1000).toFixed(1)} s ago`
    : '-';
  const replaces = i.replaces ? ` replaces ${i.replaces}` : '';
  const zone = zoned ? `${pad(i.availabilityZone ?? '-', 8)} ` : '';
  return `  ${pad(i.instanceId, 19)} ${zone}${pad(i.lifecycleState, 12)} ${pad(i.healthStatus, 10)} ${pad(`${i.pid ?? '-'}:${i.port}`, 13)} ${probe}${replaces}`;
}

/** An instance as the timeline names it: its id, and its zone when it has one. */
const named = (v: { instanceId: string; availabilityZone?: string }): string => `${v.instanceId}${v.availabilityZone !== undefined ? ` (${v.availabilityZone})` : ''}`;

/** A round's timeline: every stage of every victim in time order, its waves, whether it healed, the evidence. */
export function roundLines(r: RoundTimeline): string[] {
  const many = r.victims.length > 1;
  const zoned = r.victims.some((v) => v.availabilityZone !== undefined);
  const width = zoned ? 19 + 2 + Math.max(...r.victims.map((v) => (v.availabilityZone ?? '').length + 1)) : 19;
  const who = (v: RoundTimeline['victims'][number]): string => (many ? `${pad(named(v), width)} ` : '');
  const rows: Array<{ ms: number; text: string }> = [];
  for (const v of r.victims) {
    for (const stage of stages) {
      const at = v.stagesMs[stage];
      if (at === undefined) continue;
      let text = stageLabels[stage];
      if (stage === 'marked' && v.markedBy === 'group') text += " (by the group's own check)";
      if (stage === 'marked' && many && v.wave !== undefined) text += ` (wave ${v.wave})`;
      if (stage === 'replacementInService' && v.replacementId) text += ` (${v.replacementId})`;
      rows.push({ ms: at, text: `${who(v)}${text}` });
    }
    for (const s of v.skipped) {
      rows.push({ ms: s.ms, text: `${who(v)}skipped: ${s.reason}${s.count > 1 ? ` (x${s.count})` : ''}${s.detail ? `, ${s.detail}` : ''}` });
    }
  }
  rows.sort((a, b) => a.ms - b.ms);
  const missing = r.victims.filter((v) => !v.healed).map((v) => v.instanceId);
  const waves = new Map<number, string[]>();
  for (const v of r.victims) if (v.wave !== undefined) waves.set(v.wave, [...(waves.get(v.wave) ?? []), v.instanceId]);
  const waveLine =
    waves.size > 1
      ? [`  healed in ${waves.size} waves: ${[...waves].sort(([a], [b]) => a - b).map(([n, ids]) => `${n}) ${ids.join(', ')}`).join('; ')}`]
      : [];
  return [
    ...rows.map((row) => `  +${ms(row.ms)}  ${row.text}`),
    ...waveLine,
    r.healed ? `  healed in ${Math.round(r.durationMs)} ms` : `  NOT healed: ${missing.join(', ')} (after ${Math.round(r.durationMs)} ms)`,
    ...r.evidence.flatMap(evidenceLines),
  ];
}

/** What a replaced instance left: the verdict that marked it, how it ended, its last lines. */
export function evidenceLines(e: InstanceEvidence): string[] {
  const v = e.verdict;
  const why = v
    ? `marked by autoheal: ${v.reason}${v.detail ? ` (${v.detail})` : ''}; evidence: ${v.source}${v.observer ? ` from ${v.observer}` : ''}, "${v.evidence}"`
    : e.markedBy === 'group'
      ? "marked by the group's own check of its exited process"
      : 'marked';
  const shown = e.lastOutput.slice(-shownOutputLines);
  const more = e.lastOutput.length > shown.length ? ` (the last ${shown.length} of ${e.lastOutput.length}; --json has them all)` : '';
  return [
    `  evidence of ${named(e)}: ${why}`,
    `    ${e.exit ? describeExit(e.exit) : 'still running when the round ended'}; ${e.lastOutput.length === 0 ? 'no output' : `last output${more}:`}`,
    ...shown.map((line) => `    | ${line}`),
  ];
}

/** What the demo says once its chain stands: the group, the path of a verdict, the rounds, the observers. */
export function readyLines(p: DemoParts, options: DemoOptions): string[] {
  const mass = options.mass !== undefined ? `, ${Math.round(options.mass * 100)}% of the group at once` : '';
  const zone = options.zone !== undefined ? `, every instance of zone ${options.zone} at once` : '';
  const cut = options.partition > 0 ? ` with ${options.partition} observer(s) cut off (cut: ${cutMethod})` : '';
  const budget = `unhealthy budget ${Math.round(options.maxUnhealthyShare * 100)}% of the group`;
  const rails = relaxesRails(options) ? 'loop breaker, rate limit and suspicion window relaxed for the drill (--strict-rails keeps them)' : "the core's defaults";
  return [
    `autoheal demo: ${options.instances} local instances; probe every ${options.intervalMs} ms, unhealthy after ${options.unhealthyThreshold} failures`,
    `  prober -> SNS topic instance-alert -> SQS queue instance-failed -> bridge -> core -> local group  (fauxqs at ${p.endpoint})`,
    isObserverFailure(options.failure)
      ? `  ${options.failure}: ${Math.max(1, options.partition)} observer(s) cut off from the healthy group${options.failure === 'observer-blind' ? ' from the start' : ''} for ${options.partitionMs} ms (cut: ${cutMethod}); ${budget}`
      : `  ${options.rounds} round(s) of "${options.failure}"${mass}${zone}${cut}; ${budget}`,
    ...(options.zones.length > 0 ? [`  zones: ${options.zones.join(', ')} (each launch to the zone with the fewest instances, as Auto Scaling balances a group)`] : []),
    `  observers: ${options.observers} (${p.probers.map((x) => x.options.observer).join(', ')}), quorum ${Math.min(2, options.observers)}${options.observers === 1 ? ' (one observer marks alone)' : ''}; self-check ${options.selfCheck ? 'on' : 'OFF'}; rails: ${rails}`,
  ];
}

/** Creates the view writing to `out`; `tty` redraws the group in place. */
export function createDemoView(out: NodeJS.WritableStream, tty: boolean): DemoView {
  let parts: DemoParts | undefined;
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const offs: Array<() => void> = [];

  const groupLines = (): string[] => {
    if (!parts) return [];
    const now = Date.now();
    const shown = parts.group.instances().filter((i) => i.lifecycleState !== 'Terminated' || now - (i.terminatedAt?.getTime() ?? 0) < 3_000);
    const zoned = parts.group.options.zones.length > 0;
    return [
      `  ${pad('instance', 19)} ${zoned ? `${pad('zone', 8)} ` : ''}${pad('lifecycle', 12)} ${pad('health', 10)} ${pad('pid:port', 13)} last probe`,
      ...shown.map((i) => instanceLine(i, parts as DemoParts, now, zoned)),
    ];
  };

  const erase = (): void => {
    if (!tty || drawn === 0) return;
    out.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    if (!tty) return;
    const lines = groupLines();
    out.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const redraw = (): void => {
    erase();
    draw();
  };
  /** Writes lines above the live area. */
  const print = (...lines: string[]): void => {
    erase();
    out.write(`${lines.join('\n')}\n`);
    draw();
  };

  return {
    ready(p, options) {
      parts = p;
      print(...readyLines(p, options), '');
      if (tty) {
        timer = setInterval(redraw, 200);
        timer.unref();
      } else {
        const line = (what: string) => (e: { instanceId: string }) => {
          const i = parts?.group.instance(e.instanceId);
          if (i?.terminationReason === 'group stopped') return;
          print(`  group: ${pad(e.instanceId, 19)} ${what}${i?.replaces && what === 'InService' ? ` (replaces ${i.replaces})` : ''}`);
        };
        offs.push(
          p.group.events.on('group:instance:launched', line('Pending')),
          p.group.events.on('group:instance:in-service', line('InService')),
          p.group.events.on('group:instance:marked', (e) => line(`marked ${e.status} (by ${e.by === 'fleet' ? 'autoheal' : "the group's own check"})`)(e)),
          p.group.events.on('group:instance:terminating', line('Terminating')),
          p.group.events.on('group:instance:terminated', line('Terminated')),
        );
      }
    },
    roundStart(round, total, injections) {
      const ids = injections.map(named).join(', ');
      const first = injections[0];
      print(`round ${round}/${total}: ${first?.mode ?? ''} ${ids}${first ? ` (${injectedHow[first.mode]})` : ''}`);
    },
    roundEnd(r) {
      print(...roundLines(r), '');
    },
    summary(result) {
      print(...observerLines(result));
      if (result.partition) return;
      const s = result.summary;
      const f = (x: { p50: number; p95: number; count: number }): string =>
        x.count === 0 ? 'n/a' : `p50 ${x.p50} ms, p95 ${x.p95} ms`;
      const lines = [
        `summary: ${s.healedRounds}/${result.options.rounds} rounds healed${result.aborted ? ' (interrupted)' : ''}`,
        `  failure -> marked Unhealthy:       ${f(s.failureToMarked)}  (the prober's interval x threshold: ${s.detectionFloorMs} ms)`,
        `  failure -> replacement InService:  ${f(s.failureToReplacementInService)}`,
      ];
      if (s.skippedBudgetSpent > 0) lines.push(`  skipped with budgetSpent: ${s.skippedBudgetSpent} signal(s); the group healed in waves`);
      lines.push(
        result.falseMarkCount === 0
          ? '  false marks: 0 (no instance the demo did not fail was marked)'
          : `  FALSE MARKS: ${result.falseMarkCount} (${result.falseMarks.map((f) => f.instanceId).join(', ')})`,
      );
      print(...lines);
    },
    close() {
      clearInterval(timer);
      for (const off of offs.splice(0)) off();
      erase();
      parts = undefined;
    },
  };
}

/**
 * The observers' side of the run: who was cut off and how, each observer's degraded spells and
 * withheld verdicts, and the healer's awaitingQuorum/frozen skips — repeated lines folded, in time order.
 */
export function observerLines(result: DemoResult): string[] {
  const o = result.observers;
  const lines = [`observers: ${o.count}, quorum ${o.quorum}; ${o.note}`];
  if (o.cut.length > 0) lines.push(`  cut off: ${o.cut.join(', ')} (cut: ${o.cutMethod ?? 'none'}: its checks to the group time out, as dropped packets would)`);
  const rows = new Map<string, { ms: number; text: string; count: number }>();
  const add = (key: string, ms: number, text: string): void => {
    const row = rows.get(key);
    if (row) row.count++;
    else rows.set(key, { ms, text, count: 1 });
  };
  for (const n of result.observerLog) {
    if (n.event === 'degraded') add(`${n.observer}:degraded:${n.ms}`, n.ms, `${n.observer} degraded (${(n.reasons ?? []).join(', ')}): withholds unhealthy verdicts`);
    else if (n.event === 'recovered') add(`${n.observer}:recovered:${n.ms}`, n.ms, `${n.observer} recovered`);
    else if (n.event === 'withheld') add(`${n.observer}:withheld:${n.instanceId}`, n.ms, `${n.observer} withheld "unhealthy" for ${n.instanceId} (${(n.reasons ?? []).join(', ') || 'self-check'})`);
    else if (n.event === 'unreachable') add(`${n.observer}:unreachable:${n.group ?? ''}`, n.ms, `${n.observer} cannot reach group ${n.group ?? '?'}: reports it, votes nothing about it`);
    else if (n.state === 'unhealthy') add(`${n.observer}:sent:${n.instanceId}`, n.ms, `${n.observer} reported ${n.instanceId} unhealthy`);
  }
  for (const d of result.decisions) {
    if (d.action === 'marked') add(`marked:${d.instanceId}:${d.ms}`, d.ms, `core marked ${d.instanceId} Unhealthy (${d.detail ?? d.reason})`);
    else if (d.reason === 'awaitingQuorum' || d.reason === 'frozen') add(`${d.reason}:${d.instanceId}`, d.ms, `core skipped ${d.instanceId}: ${d.reason}${d.detail ? ` (${d.detail})` : ''}`);
  }
  const sorted = [...rows.values()].sort((a, b) => a.ms - b.ms);
  const shown = sorted.slice(0, 40);
  lines.push(...shown.map((r) => `  +${String(Math.round(r.ms)).padStart(6)} ms  ${r.text}${r.count > 1 ? ` (x${r.count})` : ''}`));
  if (sorted.length > shown.length) lines.push(`  … ${sorted.length - shown.length} more (see --json: observerLog, decisions)`);
  const p = result.partition;
  if (p) {
    lines.push(
      `partition: ${p.durationMs} ms with ${o.cut.join(', ')} cut off from a healthy group`,
      ...p.unreachable.map((u) => `  ${u.observer} cannot reach group ${u.group}: it reports that instead of voting (${u.reason})`),
      `  marked: ${p.marked.length}${p.marked.length > 0 ? ` (${p.marked.join(', ')})` : ''}; withheld (self-check, group out of reach): ${p.withheld}; outvoted (awaitingQuorum): ${p.outvoted}; frozen: ${p.frozen}; budget ${p.budget}`,
      p.held
        ? `  held: ${o.quorum > 1 ? 'nothing marked' : `no more than the budget (${p.budget}) marked`}`
        : `  NOT held: ${p.marked.length} marked${o.quorum > 1 ? '' : ` (budget ${p.budget})`}`,
    );
  }
  lines.push(`false marks: ${result.falseMarkCount}`);
  return lines;
}
