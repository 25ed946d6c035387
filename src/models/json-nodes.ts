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
 * data. It counts what the codec may write: a cycle is one marker, nesting
 * deeper than the codec's depth bound one marker, a Date or a Buffer one
 * value. What a `toJSON` returns, and the entries of Maps and Sets, are
 * walked like the rest: JSON.stringify writes the former, the codec's
 * sanitising walk (taken when the data holds a function, a BigInt, ...) the
 * latter, so counting either as one let a small wrapper around shared parts
 * through, and it held the event loop as long as unwrapped data did.
 */

/** The codec's depth bound (json-safe.ts): deeper data becomes one marker. */
const MAX_DEPTH = 32;

export function jsonValuesExceed(value: unknown, limit: number): boolean {
  // Fast path, for what sendEvent almost always gets: an object of primitives (no walk, no Set).
  // Not for an object with a toJSON (its own or its class's): JSON writes what that returns.
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    const rec = value as Record<string, unknown>;
    let values = 1;
    let flat = true;
    for (const k in rec) {
      if (!Object.prototype.hasOwnProperty.call(rec, k)) continue;
      const v = rec[k];
      if (v !== null && typeof v === 'object') {
        flat = false;
        break;
      }
      values++;
    }
    if (flat) return values > limit;
  }
  return valuesLeft(value, new Set<object>(), 0, limit) < 0;
}

/** `left` less the values `value` writes, or -1 as soon as that goes below 0. `path`: the objects being walked (a cycle is one marker). */
function valuesLeft(value: unknown, path: Set<object>, depth: number, left: number): number {
  if (--left < 0) return -1;
  if (value === null || typeof value !== 'object') return left;
  if (path.has(value) || depth >= MAX_DEPTH || value instanceof Date || Buffer.isBuffer(value)) return left;
  path.add(value);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    // As the codec: what toJSON returns is written in the value's place (one level deeper).
    try {
      left = valuesLeft(toJSON.call(value), path, depth + 1, left + 1);
    } catch {
      // The codec writes a marker for a toJSON that throws.
    }
  } else if (value instanceof Map) {
    for (const v of value.values()) if ((left = valuesLeft(v, path, depth + 1, left)) < 0) break;
  } else if (value instanceof Set) {
    for (const v of value) if ((left = valuesLeft(v, path, depth + 1, left)) < 0) break;
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length && left >= 0; i++) left = valuesLeft(value[i], path, depth + 1, left);
  } else {
    const rec = value as Record<string, unknown>;
    for (const k in rec) {
      if (left < 0) break;
      if (Object.prototype.hasOwnProperty.call(rec, k)) left = valuesLeft(rec[k], path, depth + 1, left);
    }
  }
  path.delete(value);
  return left;
}
