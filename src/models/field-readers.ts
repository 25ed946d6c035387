/**
 * Small readers shared by the model constructors: each takes the raw input
 * value and the camelCase field name, and either returns a normalised value
 * or records a problem naming the field. Validation happens once, here, at
 * the boundary; the codec trusts what the constructors built.
 */
import type { FieldProblem } from '../errors.js';
import { isWireTime, parseTimestampText } from './wire-time.js';

export type Problems = FieldProblem[];

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'Date';
  return typeof v;
}

/** First defined value among the input's spellings of one field (camelCase, snake_case, seed aliases). */
export function readAny(input: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) {
    const v = input[k];
    if (v !== undefined) return v;
  }
  return undefined;
}

export function optionalString(v: unknown, field: string, problems: Problems): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  problems.push({ field, message: `expected a string, got ${kindOf(v)}` });
  return null;
}

export function stringOrEmpty(v: unknown, field: string, problems: Problems): string {
  return optionalString(v, field, problems) ?? '';
}

/**
 * A safe integer (|n| <= 2^53 - 1): beyond that a JS number is no longer the
 * integer given, and from 1e21 JSON writes it as `1e+21`, which the backend's
 * pydantic `int` refuses (int_parsing_size), failing the whole batch with 422.
 */
export function optionalInteger(v: unknown, field: string, problems: Problems): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  problems.push({ field, message: `expected a safe integer (at most 2^53 - 1 in magnitude), got ${kindOf(v) === 'number' ? String(v) : kindOf(v)}` });
  return null;
}

export function optionalFiniteNumber(v: unknown, field: string, problems: Problems): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  problems.push({ field, message: `expected a finite number, got ${kindOf(v) === 'number' ? String(v) : kindOf(v)}` });
  return null;
}

/**
 * A timestamp: a Date, an RFC 3339 / ISO string (the Python agent's
 * `2026-05-12 10:00:00+00:00` form included; no offset means UTC), or a
 * number (epoch seconds below 1e11, epoch milliseconds above). Missing means now. A valid date
 * outside years 1-9999 UTC is refused: the backend's datetime cannot hold it,
 * and one such event would make it reject the whole batch.
 */
export function timestamp(v: unknown, field: string, problems: Problems, now: () => number = Date.now): Date {
  if (v === undefined || v === null) return new Date(now());
  let d: Date | null = null;
  if (v instanceof Date) d = new Date(v.getTime());
  else if (typeof v === 'number' && Number.isFinite(v)) d = new Date(v < 1e11 ? v * 1000 : v);
  else if (typeof v === 'string') d = parseTimestampText(v);
  if (d && !Number.isNaN(d.getTime())) {
    if (isWireTime(d.getTime())) return d;
    // A number this far out is most often an epoch in micro- or nanoseconds.
    const hint = typeof v === 'number' ? ' (epoch numbers are read as seconds below 1e11, else milliseconds)' : '';
    problems.push({ field, message: `must fall within years 1-9999 UTC, the backend's datetime range; got ${d.toISOString()}${hint}` });
    return new Date(now());
  }
  problems.push({ field, message: `expected a Date, an ISO 8601 string or epoch number, got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : kindOf(v)}` });
  return new Date(now());
}

export function plainObject(v: unknown, field: string, problems: Problems): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) return v as Record<string, unknown>;
  problems.push({ field, message: `expected an object, got ${kindOf(v)}` });
  return {};
}
