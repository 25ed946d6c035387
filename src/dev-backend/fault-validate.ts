/**
 * Checks a fault handed in by a test or through the control API (JSON, where
 * `Infinity` cannot be written: `"Infinity"`, `"inf"` and `-1` mean it) and
 * returns a clean copy, or throws an Error that names the bad field.
 */
import type { Fault } from './types.js';

const KINDS = new Set(['status', 'delay', 'reset', 'garbage', 'oversized', 'successFalse', 'maxItems', 'down']);

function fail(message: string): never {
  throw new Error(`Invalid fault: ${message}`);
}

function count(value: unknown, field: string, min: number): number {
  if (value === 'Infinity' || value === 'inf' || value === -1 || value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(`${field} must be an integer >= ${min} (or Infinity), got ${JSON.stringify(value)}`);
  }
  return value;
}

function nonNegative(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(`${field} must be a finite number >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

function httpStatus(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 100 || value > 599) {
    fail(`${field} must be an HTTP status 100-599, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function normalizeFault(input: unknown): Fault {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) fail('expected an object');
  const f = input as Record<string, unknown>;
  if (typeof f.kind !== 'string' || !KINDS.has(f.kind)) fail(`unknown kind ${JSON.stringify(f.kind)}`);
  const base: { path?: string; delayMs?: number } = {};
  if (f.path !== undefined) {
    if (typeof f.path !== 'string' || !f.path.startsWith('/')) fail('path must be a string starting with "/"');
    base.path = f.path;
  }
  if (f.delayMs !== undefined) base.delayMs = nonNegative(f.delayMs, 'delayMs');
  const times = (dflt: number): number => (f.times === undefined ? dflt : count(f.times, 'times', 1));

  switch (f.kind) {
    case 'status': {
      const out: Fault = { kind: 'status', status: httpStatus(f.status, 'status'), times: times(1), ...base };
      if (f.body !== undefined) {
        if (typeof f.body !== 'string' && (f.body === null || typeof f.body !== 'object')) fail('body must be a string or an object');
        out.body = f.body as string | object;
      }
      if (f.headers !== undefined) {
        if (f.headers === null || typeof f.headers !== 'object' || Array.isArray(f.headers)) fail('headers must be an object');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(f.headers as Record<string, unknown>)) headers[k] = String(v);
        out.headers = headers;
      }
      if (f.retryAfterDateSeconds !== undefined) out.retryAfterDateSeconds = nonNegative(f.retryAfterDateSeconds, 'retryAfterDateSeconds');
      return out;
    }
    case 'delay':
      return { kind: 'delay', ms: nonNegative(f.ms, 'ms'), times: times(1), ...base };
    case 'reset':
      return { kind: 'reset', times: times(1), ...base };
    case 'garbage': {
      if (f.body !== undefined && typeof f.body !== 'string') fail('body must be a string');
      const out: Fault = { kind: 'garbage', times: times(1), ...base };
      if (typeof f.body === 'string') out.body = f.body;
      return out;
    }
    case 'oversized': {
      const out: Fault = { kind: 'oversized', bytes: count(f.bytes, 'bytes', 1), times: times(1), ...base };
      if (!Number.isFinite(out.bytes)) fail('bytes must be finite');
      if (f.status !== undefined) out.status = httpStatus(f.status, 'status');
      return out;
    }
    case 'successFalse': {
      const out: Fault = { kind: 'successFalse', times: times(1), ...base };
      if (f.errors !== undefined) {
        if (!Array.isArray(f.errors) || !f.errors.every((e) => typeof e === 'string')) fail('errors must be an array of strings');
        out.errors = [...(f.errors as string[])];
      }
      return out;
    }
    case 'maxItems':
      return { kind: 'maxItems', max: count(f.max, 'max', 0), times: times(Infinity), ...base };
    case 'down': {
      const out: Fault = { kind: 'down', ...base };
      if (f.untilMs !== undefined && f.untilMs !== null) out.untilMs = nonNegative(f.untilMs, 'untilMs');
      return out;
    }
  }
  return fail(`unknown kind ${JSON.stringify(f.kind)}`);
}
