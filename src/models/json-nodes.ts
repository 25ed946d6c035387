/**
 * Whether app data would write more than `limit` JSON values. An object that
 * shares its sub-objects (`{ a: x, b: x }`, nested) is small in memory, but
 * JSON writes every shared part again at every place it appears: 40 levels
 * of it make 2^40 values, and each walk of the shipping path (redaction, the
 * SDK's copy of the attributes, the codec) would hold the host's event loop
 * for hours. Every value costs at least one byte of JSON, so data with more
 * values than an event's byte cap cannot fit it anyway.
 *
 * The walk stops at `limit`, so it costs at most `limit` steps whatever the
 * data. It counts what the codec writes: a cycle is one marker, nesting
 * deeper than the codec's depth bound one marker; values with a `toJSON`,
 * Maps and Sets count as one (a lower bound is enough to be safe).
 */

/** The codec's depth bound (json-safe.ts): deeper data becomes one marker. */
const MAX_DEPTH = 32;

export function jsonValuesExceed(value: unknown, limit: number): boolean {
  const budget = { left: limit };
  return !fits(value, new Set<object>(), 0, budget);
}

function fits(value: unknown, path: Set<object>, depth: number, budget: { left: number }): boolean {
  if (--budget.left < 0) return false;
  if (value === null || typeof value !== 'object') return true;
  if (path.has(value) || depth >= MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return true;
  if (value instanceof Map || value instanceof Set || Buffer.isBuffer(value)) return true;
  path.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (!fits(value[i], path, depth + 1, budget)) return false;
      return true;
    }
    const rec = value as Record<string, unknown>;
    for (const k in rec) if (Object.prototype.hasOwnProperty.call(rec, k) && !fits(rec[k], path, depth + 1, budget)) return false;
    return true;
  } finally {
    path.delete(value);
  }
}
