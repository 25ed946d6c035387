/**
 * The instants the backend can take. Its `timestamp` fields are Python
 * `datetime`s (reference 2.2, 2.3), which hold years 1 through 9999 only; a
 * JS Date reaches far beyond (`+057000-...`, `-000001-...`), and one such
 * event makes pydantic refuse its whole batch with 422. Every way into a
 * SecurityEvent or SecurityMetric checks against this range.
 */

/** `0001-01-01T00:00:00.000Z` (Date.UTC would read year 1 as 1901). */
export const WIRE_TIME_MIN_MS = Date.parse('0001-01-01T00:00:00.000Z');
/** `9999-12-31T23:59:59.999Z`. */
export const WIRE_TIME_MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** True for a time value (ms since the epoch) the backend's datetime can hold. */
export function isWireTime(ms: number): boolean {
  return ms >= WIRE_TIME_MIN_MS && ms <= WIRE_TIME_MAX_MS;
}

/** A date and time without an offset: `2026-05-12T10:00:00`, `2026-05-12 10:00:00.123456`. */
const NAIVE_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/;

/** The start of an ISO 8601 date-time: a full date (an expanded year too, refused later by its range), alone or followed by the time. */
const ISO_DATE = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}(?:$|[Tt ])/;

/**
 * Parses a timestamp string. A date and time without an offset is UTC: that
 * is what a Python backend's naive datetime means (pydantic writes it with no
 * offset), and `new Date()` would read it in the host's time zone, shifting
 * it by hours on any host not set to UTC. Python's `str(datetime)` space
 * separator is accepted too. Invalid input, and text in no ISO 8601 form, gives an invalid Date.
 */
export function parseTimestampText(text: string): Date {
  const naive = NAIVE_DATE_TIME.exec(text);
  if (naive) return new Date(`${naive[1]}T${naive[2]}Z`);
  // Only ISO 8601 / RFC 3339 forms, as the backend's pydantic reads them: V8's fallback parser takes
  // anything else, read '1' as 2001-01-01 and 'March 7 2020 10:00' in the host's time zone.
  if (!ISO_DATE.test(text)) return new Date(NaN);
  return new Date(text.includes(' ') && !text.includes('T') ? text.replace(' ', 'T') : text);
}
