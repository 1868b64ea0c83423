/**
 * The prober machine's verdict stage: a check's result through the threshold and the observer's
 * self-check to a report — a verdict sent, withheld while degraded, or nothing new — and the
 * sink's answer. Pure, like the rest of the machine (machine.ts).
 */
import { probeSignal } from '../signals/probe.js';
import type { HealthSignal } from '../signals/types.js';
import { notePath, withholdForReach } from './reach.js';
import { stepSelfCheck } from './self-check.js';
import { outcomeOf, shouldSend, stepThreshold, thresholdDetail } from './threshold.js';
import type { WithholdReason } from './types.js';
import { emit, forgetIfDone, quiet, type Effect, type EventOf, type ProberState, type Reading, type TargetRecord } from './state.js';

/** Judges a current target by its check: the threshold, the self-check, then the report. */
export function judge(s: ProberState, rec: TargetRecord, e: EventOf<'check:done'>, latenessMs: number, out: Effect[]): void {
  const { result, ms, atMs } = e;
  const { outcome, overrunMs } = outcomeOf(result, ms, s.settings.options.timeoutMs);
  s.worstLatenessMs = Math.max(s.worstLatenessMs, latenessMs, overrunMs);
  rec.last = { ok: result.ok, atMs, ms, ...(result.error ? { error: result.error } : {}) };
  // What the check says of the observer's own path (silent, refused, lost and found again) and of
  // its reach into the target's group.
  notePath(s, rec, result, e, out);
  if (!result.ok) s.stats.failures++;
  if (outcome.kind === 'inconclusive') s.stats.inconclusive++;
  const next = stepThreshold(rec.threshold, outcome, s.settings.options);
  rec.threshold = next.state;
  emit(out, result.ok ? 'prober:check:succeeded' : 'prober:check:failed', {
    instanceId: rec.target.instanceId,
    target: rec.url,
    ok: result.ok,
    ...(result.error ? { error: result.error } : {}),
    ms,
    latenessMs,
    consecutiveFailures: rec.threshold.failures,
    ...(outcome.kind === 'inconclusive' ? { inconclusive: true } : {}),
    atMs,
  });
  if (next.crossed) {
    s.unhealthy += next.crossed === 'unhealthy' ? 1 : -1;
    const payload = { instanceId: rec.target.instanceId, target: rec.url, detail: thresholdDetail(rec.threshold), atMs };
    emit(out, next.crossed === 'unhealthy' ? 'prober:target:unhealthy' : 'prober:target:healthy', payload);
  }
  assessSelf(s, e, out);
  report(s, rec, e, out);
}

/** Feeds the self-check what the observer saw of itself since the last time. */
export function assessSelf(s: ProberState, r: Reading, out: Effect[]): void {
  const next = stepSelfCheck(
    s.self,
    {
      nowMs: r.nowMs,
      latenessMs: s.worstLatenessMs,
      targets: s.byKey.size,
      failing: s.failing,
      refused: s.refused,
      recovering: s.recovering,
      ...(s.referenceOk !== undefined ? { referenceOk: s.referenceOk } : {}),
    },
    s.settings.selfCheck,
  );
  s.worstLatenessMs = 0;
  const before = s.self;
  s.self = next.state;
  const observer = s.settings.options.observer;
  if (next.changed === 'degraded') {
    const reasons = s.self.reasons;
    out.push({ type: 'log', level: 'warn', fields: { observer, reasons }, message: 'prober: observer degraded; withholding unhealthy verdicts' });
    emit(out, 'prober:observer:degraded', { observer, reasons, atMs: r.atMs });
  } else if (next.changed === 'recovered') {
    const degradedForMs = Math.round(r.nowMs - (before.sinceMs ?? r.nowMs));
    out.push({ type: 'log', level: 'warn', fields: { observer, degradedForMs }, message: 'prober: observer recovered; verdicts flow again' });
    emit(out, 'prober:observer:recovered', { observer, degradedForMs, atMs: r.atMs });
  }
}

/** Sends the target's verdict if it is news, or due again; withholds it while degraded. */
function report(s: ProberState, rec: TargetRecord, r: Reading, out: Effect[]): void {
  if (rec.delivery.name === 'sending') return;
  const o = s.settings.options;
  const verdict = rec.threshold.verdict;
  const decision = shouldSend({
    verdict,
    reported: rec.reported,
    reportedAtMs: rec.reportedAtMs,
    nowMs: r.atMs,
    repeatUnhealthyAfterMs: o.repeatUnhealthyAfterMs,
    degraded: s.self.degraded,
  });
  if (decision === 'none') return;
  const instanceId = rec.target.instanceId;
  // Degraded, or the target's group never answered this observer: not a vote, a report.
  const unreachable = verdict === 'unhealthy' && withholdForReach(s, rec, r, out);
  if (decision === 'withhold' || unreachable) {
    const { observer } = o;
    const reasons: WithholdReason[] = [...(decision === 'withhold' ? s.self.reasons : []), ...(unreachable ? (['groupUnreachable'] as const) : [])];
    s.stats.signalsWithheld++;
    // A group out of reach was logged once, when it became so: a line per target and check would
    // be thousands a second for a large group.
    if (decision === 'withhold') out.push({ type: 'log', level: 'info', fields: { observer, instanceId, reasons }, message: 'prober: unhealthy verdict withheld (observer degraded)' });
    emit(out, 'prober:signal:withheld', { observer, instanceId, reasons, atMs: r.atMs });
    return;
  }
  rec.sequence++;
  const signal: HealthSignal = {
    ...probeSignal({
      instanceId,
      healthy: verdict === 'healthy',
      target: rec.url,
      observedAt: new Date(r.atMs).toISOString(),
      detail: thresholdDetail(rec.threshold),
      sequence: rec.sequence,
      observer: o.observer,
    }),
    ...(s.settings.region ? { region: s.settings.region } : {}),
  };
  rec.delivery = { name: 'sending', verdict, signal };
  s.sending++;
  out.push({ type: 'send', id: rec.id, signal });
}

/** A send ended: accepted (reported) or refused (sent again at the next check). */
export function onSendSettled(s: ProberState, e: EventOf<'send:done' | 'send:failed'>, out: Effect[]): void {
  const rec = s.records.get(e.id);
  if (rec?.delivery.name !== 'sending') return;
  const { verdict, signal } = rec.delivery;
  rec.delivery = quiet;
  s.sending--;
  if (e.type === 'send:done') {
    rec.reported = verdict;
    rec.reportedAtMs = e.atMs;
    s.stats.signalsSent++;
    emit(out, 'prober:signal:sent', { signal, ms: e.ms, atMs: e.atMs });
  } else {
    s.stats.signalsFailed++;
    const fields = { instanceId: signal.instanceId, state: verdict, error: e.error };
    out.push({ type: 'log', level: 'warn', fields, message: 'prober: sink failed; will send again at the next check' });
    emit(out, 'prober:signal:failed', { signal, error: e.error, atMs: e.atMs });
  }
  forgetIfDone(s, rec);
}
