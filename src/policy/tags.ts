/**
 * The grammar of autoheal's time tags, written once: `autoheal:paused` (group),
 * `autoheal:suppressed-until` (instance) and `autoheal:resumed-at` (group). Pure.
 *
 * A value is one of:
 * - the word `true` or `false` (any case);
 * - a full ISO 8601 time: date, time and zone, `2026-05-14T18:00:00Z` or `2026-05-14T20:00+02:00`.
 *
 * Anything else — `1`, `12`, `maintenance 2026`, a date without a time, an empty value — is
 * unreadable, and an unreadable pause or suppression holds (fail closed): `Date.parse` would read
 * `1` as the year 2001, a time long past, and so switch the rail off without a word.
 */
import type { GroupLedger } from './ledger.js';

/** A full ISO 8601 time: date, hours and minutes (seconds and fractions optional), and a zone. */
const isoTimePattern = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** An example of the grammar's time, for messages. */
export const isoTimeExample = '2026-05-14T18:00:00Z';

/** Milliseconds since the epoch of a full ISO 8601 time, or undefined for anything else. */
export function parseIsoTime(text: string): number | undefined {
  const trimmed = text.trim();
  const m = isoTimePattern.exec(trimmed);
  if (!m) return undefined;
  // Date.parse rolls 2024-02-30 over to March 1: the day must exist as written.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A time tag's value: absent or `false` (off), `true` (no end), a full ISO 8601 time, or unreadable (fail closed: no end). */
export function tagUntil(value: string | undefined): { active: false } | { active: true; untilMs?: number; unreadable?: true } {
  if (value === undefined) return { active: false };
  const text = value.trim().toLowerCase();
  if (text === 'false') return { active: false };
  if (text === 'true') return { active: true };
  const ms = parseIsoTime(value);
  return ms === undefined ? { active: true, unreadable: true } : { active: true, untilMs: ms };
}

/** Why a time tag's value is unreadable, for a skip's detail. */
export function unreadableTag(key: string, value: string): string {
  return `tag ${key}="${value}" is not true, false or a full ISO 8601 time (${isoTimeExample})`;
}

/** A time stamped this far in the future is still believed: the clock skew allowance. */
export const futureSkewMs = 5_000;

/** What the resume tag says, as counted by the rails. */
export interface ResumeReading {
  /** The ledger, remembering the tag as first read. */
  ledger: GroupLedger;
  /** The time the resume counts as; undefined without a readable resume tag (holds stay). */
  atMs?: number;
  /** The tag's own time, when it lay in the future beyond the skew and so counts from when it was first read. */
  futureMs?: number;
}

/**
 * Reads the group's resume tag (`autoheal:resumed-at`, written by `autoheal resume`). A time up to
 * the skew ahead counts as given. A time further ahead — an operator's clock that runs fast, a
 * typo in the year — counts as the moment autoheal first read it: taken as given, it would lift
 * every hold that begins before it, switching the freeze and the loop breaker off until then.
 * The ledger remembers the first reading, so it stays fixed; an unreadable value is no resume.
 */
export function readResume(ledger: GroupLedger, value: string | undefined, nowMs: number): ResumeReading {
  const ms = value === undefined ? undefined : parseIsoTime(value);
  if (value === undefined || ms === undefined) {
    const { resume: _resume, ...rest } = ledger;
    return { ledger: rest };
  }
  if (ledger.resume?.tag === value) return { ledger, atMs: ledger.resume.atMs, ...(ms > ledger.resume.atMs + futureSkewMs ? { futureMs: ms } : {}) };
  const future = ms > nowMs + futureSkewMs;
  const atMs = future ? nowMs : ms;
  return { ledger: { ...ledger, resume: { tag: value, atMs } }, atMs, ...(future ? { futureMs: ms } : {}) };
}
