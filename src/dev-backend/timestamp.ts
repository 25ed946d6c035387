/**
 * Which timestamps the backend's pydantic `datetime` fields accept in lax
 * mode: RFC 3339 / ISO 8601 with `T`, `t` or a space (Python's
 * `str(datetime)` form), optional seconds, fraction and offset (`Z` or
 * `+hh:mm`), a bare date, or a Unix time as a number or a digit string.
 */
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?(?:[Zz]|[+-](\d{2})(?::?(\d{2}))?)?)?$/;
const UNIX_RE = /^-?\d+(?:\.\d+)?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isAcceptedTimestamp(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'string') return false;
  if (UNIX_RE.test(value)) return true;
  const m = ISO_RE.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59)) return false;
  if (m[6] !== undefined && Number(m[6]) > 59) return false;
  if (m[7] !== undefined && Number(m[7]) > 23) return false;
  if (m[8] !== undefined && Number(m[8]) > 59) return false;
  return true;
}
