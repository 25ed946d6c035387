/**
 * The compact fault language of `guard-agent dev-backend --faults`:
 * comma-separated tokens, case-insensitive, `xN` repeats a token N times
 * (`xinf` forever).
 *
 *   503x3            status 503, three times
 *   429:ra=2         429 with `Retry-After: 2`
 *   429x2:ra=date+5  429 twice with `Retry-After` as an HTTP-date 5 s ahead
 *   resetx2          destroy the socket twice
 *   delay=500        wait 500 ms (also `delay=2s`), then answer normally
 *   garbage          200 with a non-JSON body
 *   oversized=1mb    a huge body (`:200` after the size picks the status; default 500)
 *   successfalse     200 {"success":false,"errors":[...]}
 *   413max=10        413 for batches of more than 10 items
 *   down=30s         503 on every API route for 30 s (`down` alone: until cleared)
 */
import type { Fault } from './types.js';

const TIMES = '(?:x(\\d+|inf))?';
const STATUS_RE = new RegExp(`^(\\d{3})${TIMES}(?::ra=(date\\+\\d+(?:\\.\\d+)?|\\d+(?:\\.\\d+)?))?$`);
const SIMPLE_RE = new RegExp(`^(reset|garbage|successfalse)${TIMES}$`);
const DELAY_RE = new RegExp(`^delay=(\\d+(?:\\.\\d+)?)(ms|s)?${TIMES}$`);
const OVERSIZED_RE = new RegExp(`^oversized=(\\d+(?:\\.\\d+)?)(b|kb|mb)?${TIMES}(?::(\\d{3}))?$`);
const MAX_ITEMS_RE = /^413max=(\d+)$/;
const DOWN_RE = /^down(?:=(\d+(?:\.\d+)?)(ms|s|m)?)?$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

function times(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'inf') return Infinity;
  return Number(value);
}

function parseToken(token: string, now: number): Fault {
  let m = STATUS_RE.exec(token);
  if (m) {
    const status = Number(m[1]);
    const n = times(m[2]);
    if (status < 100 || status > 599 || n < 1) throw new Error('status must be 100-599 and xN at least 1');
    const fault: Fault = { kind: 'status', status, times: n };
    if (m[3]?.startsWith('date+')) fault.retryAfterDateSeconds = Number(m[3].slice(5));
    else if (m[3] !== undefined) fault.headers = { 'Retry-After': m[3] };
    return fault;
  }
  if ((m = SIMPLE_RE.exec(token))) {
    const n = times(m[2]);
    if (n < 1) throw new Error('xN must be at least 1');
    const kind = m[1] === 'successfalse' ? 'successFalse' : (m[1] as 'reset' | 'garbage');
    return { kind, times: n };
  }
  if ((m = DELAY_RE.exec(token))) {
    const n = times(m[3]);
    if (n < 1) throw new Error('xN must be at least 1');
    return { kind: 'delay', ms: Number(m[1]) * UNIT_MS[m[2] ?? 'ms'], times: n };
  }
  if ((m = OVERSIZED_RE.exec(token))) {
    const bytes = Math.round(Number(m[1]) * UNIT_BYTES[m[2] ?? 'b']);
    const n = times(m[3]);
    if (bytes < 1 || n < 1) throw new Error('size and xN must be at least 1');
    const fault: Fault = { kind: 'oversized', bytes, times: n };
    if (m[4] !== undefined) fault.status = Number(m[4]);
    return fault;
  }
  if ((m = MAX_ITEMS_RE.exec(token))) return { kind: 'maxItems', max: Number(m[1]) };
  if ((m = DOWN_RE.exec(token))) {
    if (m[1] === undefined) return { kind: 'down' };
    return { kind: 'down', untilMs: now + Number(m[1]) * UNIT_MS[m[2] ?? 'ms'] };
  }
  throw new Error('not a known fault');
}

/** Parses a fault spec; throws an Error naming the first bad token. `down=30s` counts from `now`. */
export function parseFaultSpec(spec: string, now = Date.now()): Fault[] {
  const tokens = spec.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  return tokens.map((token) => {
    try {
      return parseToken(token.toLowerCase().replace(/\s+/g, ''), now);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`Invalid fault spec token "${token}": ${why} (expected e.g. 503x3, 429:ra=2, 429:ra=date+5, resetx2, delay=500, garbage, oversized=1mb, successfalse, 413max=10, down=30s)`, { cause: err });
    }
  });
}
