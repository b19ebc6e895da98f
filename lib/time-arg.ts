// A time given on a command line: ISO 8601, or relative to now as `now`, `now-90s`, `now-2h`,
// `now+2h`. Relative times have no leading dash, so argument parsers take them as a value (never
// an option). Shared by every command that takes a time (vigil-phone play/export, invites' expiry).
//
// Pure and neutral (lib/): the caller passes `now`, so tests need no clock.

/** Why a time argument was refused: the text is not repeated (it may be anything a user typed). */
export class TimeArgError extends Error {
  override readonly name = 'TimeArgError';
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** now, now-90s, now+2h, now-1.5h, now-1h30m: signed sum of number+unit terms after `now`. */
const RELATIVE = /^now(?:([+-])((?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+))?$/;
const TERM = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * ISO 8601 as JavaScript reads it, a date at least (2026-03-01), with optional time and zone.
 * A date and time without a zone is the machine's local time; a date alone is UTC midnight.
 */
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** The furthest from now a relative time may reach (100 years): bounded arithmetic, no surprise overflow. */
const MAX_RELATIVE_MS = 100 * 365 * UNIT_MS.d!;

/** Unix ms of `text` (see the module comment); throws TimeArgError for anything else. */
export function parseTimeArg(text: string, now: number): number {
  const t = text.trim();
  const rel = RELATIVE.exec(t);
  if (rel !== null) {
    if (rel[1] === undefined) return now;
    let ms = 0;
    for (const m of rel[2]!.matchAll(TERM)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    if (!(ms <= MAX_RELATIVE_MS)) throw new TimeArgError('a relative time reaches more than 100 years from now');
    return Math.round(rel[1] === '-' ? now - ms : now + ms);
  }
  if (ISO.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw new TimeArgError('a time is ISO 8601 (2026-03-01T14:30:00Z) or relative to now (now-90s, now-2h, now+2h)');
}

/** A time as ISO 8601 in UTC, to the millisecond (what commands print). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
