import type { HealthSignal, LifecycleSignal, ObserverReport, ParseResult } from './types.js';

/** Where a parser is in the input, and what the envelopes around it said. */
export interface Place {
  /** Path prefix for reasons, ending with `.` unless empty: `Records[3].Sns.`. */
  path: string;
  /** SQS message id of the record being read. */
  recordId?: string;
  /** The nearest envelope id: SNS MessageId, else the SQS message id. */
  envelopeId?: string;
  /** The nearest envelope time (SNS Timestamp), ISO 8601. */
  envelopeTime?: string;
  /** The SQS record's SenderId: who the channel says sent the message. */
  sender?: string;
  /** The alarm came in the 2014 `!!` form. */
  legacy?: boolean;
  /** Envelopes opened so far; bounded so a crafted input cannot recurse without end. */
  depth: number;
}

/** The largest number of envelopes opened around one event. */
export const maxDepth = 6;

/** Collects what one input yields. */
export class Collector {
  readonly result: ParseResult = { signals: [], lifecycle: [], rejected: [] };

  reject(at: Place, field: string, text: string): void {
    const where = field === '' ? (at.path === '' ? 'input' : at.path.slice(0, -1)) : `${at.path}${field}`;
    const rejection = at.recordId === undefined ? { reason: `${where}: ${text}` } : { reason: `${where}: ${text}`, recordId: at.recordId };
    this.result.rejected.push(rejection);
  }

  signal(at: Place, signal: HealthSignal): void {
    if (at.recordId !== undefined) signal.recordId = at.recordId;
    this.result.signals.push(signal);
  }

  lifecycle(at: Place, signal: LifecycleSignal): void {
    if (at.recordId !== undefined) signal.recordId = at.recordId;
    this.result.lifecycle.push(signal);
  }

  report(at: Place, report: ObserverReport): void {
    if (at.recordId !== undefined) report.recordId = at.recordId;
    (this.result.observerReports ??= []).push(report);
  }
}

/** A place one level further in. */
export function inside(at: Place, field: string, changes: Partial<Place> = {}): Place {
  return { ...at, ...changes, path: `${at.path}${field}.`, depth: at.depth + 1 };
}
