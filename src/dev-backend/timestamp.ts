/**
 * Which timestamps the backend's pydantic `datetime` fields accept in lax
 * mode: RFC 3339 / ISO 8601 with `T`, `t` or a space (Python's
 * `str(datetime)` form), optional seconds, fraction and offset (`Z`,
 * `+hh:mm` or `+hhmm`; pydantic refuses an hour-only `+hh`), a bare date, or
 * a Unix time as a number or a digit string: seconds, or milliseconds when
 * above 2e10 in magnitude, and in either case within years 1 to 9999.
 */
import { isWireTime } from '../models/wire-time.js';

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?(?:[Zz]|[+-](\d{2}):?(\d{2}))?)?$/;
const UNIX_RE = /^-?\d+(?:\.\d+)?$/;

/** pydantic's rule for a Unix time: milliseconds above 2e10 in magnitude, seconds below. */
function isUnixTime(n: number): boolean {
  return Number.isFinite(n) && isWireTime(Math.abs(n) > 2e10 ? n : n * 1000);
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isAcceptedTimestamp(value: unknown): boolean {
  if (typeof value === 'number') return isUnixTime(value);
  if (typeof value !== 'string') return false;
  if (UNIX_RE.test(value)) return isUnixTime(Number(value));
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
