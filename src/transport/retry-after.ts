/**
 * `Retry-After` (RFC 9110 10.2.3) in both forms: delta-seconds and HTTP-date.
 * The Python agent only understood numbers and used 60 s for dates
 * (reference 3.5, 11.11); here a date is honoured too.
 */

/** Longest wait we accept from a server, whatever it asks. */
export const DEFAULT_RETRY_AFTER_CAP_MS = 300_000;

/**
 * Milliseconds to wait, or `null` when the header is missing or malformed (the
 * caller then uses its own backoff). Negative values and dates in the past give
 * 0; everything is capped at `capMs`.
 */
export function parseRetryAfterMs(
  value: string | string[] | undefined | null,
  now: number = Date.now(),
  capMs: number = DEFAULT_RETRY_AFTER_CAP_MS,
): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw == null) return null;
  const text = raw.trim();
  if (text === '') return null;
  // delta-seconds; fractional and negative values are accepted leniently (servers send them).
  if (/^[-+]?\d+(\.\d+)?$/.test(text)) {
    const seconds = Number(text);
    return clamp(seconds * 1000, capMs);
  }
  // HTTP-date (IMF-fixdate, plus the obsolete forms Date.parse understands). Require a
  // letter so plain garbage such as "1-2" is not read as a date.
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return clamp(at - now, capMs);
}

function clamp(ms: number, capMs: number): number {
  if (!Number.isFinite(ms)) return ms > 0 ? capMs : 0;
  return Math.min(capMs, Math.max(0, Math.round(ms)));
}
