/**
 * Makes arbitrary app data (event metadata, extra keys) JSON-encodable
 * without ever throwing. Values JSON cannot carry (cycles, BigInt, functions,
 * symbols, non-finite numbers) are replaced by a marker string and counted,
 * so the shipping path never fails on the app's data and nothing is dropped
 * silently (plain JSON.stringify would omit functions without a trace).
 *
 * The walk returns the input object itself when it is already clean (the
 * common case), so a well-behaved event costs one walk and no copies.
 */

/** Counters the codec bumps; one per handler/exporter, no global state. */
export interface CodecStats {
  /** Values replaced by a marker because JSON cannot encode them. */
  unencodable: number;
  /** Events whose metadata (or long strings) were truncated to fit `maxEventBytes`. */
  truncated: number;
}

export function newCodecStats(): CodecStats {
  return { unencodable: 0, truncated: 0 };
}

export const MARKERS = {
  circular: '[Circular]',
  bigint: (v: bigint) => `[BigInt: ${v.toString()}]`,
  function: '[Function]',
  symbol: '[Symbol]',
  nonFinite: (v: number) => `[Number: ${String(v)}]`,
  depth: '[MaxDepth]',
} as const;

const MAX_DEPTH = 32;

/** Returns a JSON-safe version of `value` (the same reference when nothing needed replacing). */
export function toJsonSafe(value: unknown, stats?: CodecStats): unknown {
  const seen = new Set<object>();
  return walk(value, seen, 0, stats);
}

function walk(value: unknown, seen: Set<object>, depth: number, stats?: CodecStats): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      count(stats);
      return MARKERS.nonFinite(value);
    case 'undefined':
      return value;
    case 'bigint':
      count(stats);
      return MARKERS.bigint(value);
    case 'function':
      count(stats);
      return MARKERS.function;
    case 'symbol':
      count(stats);
      return MARKERS.symbol;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) {
    count(stats);
    return MARKERS.circular;
  }
  if (depth >= MAX_DEPTH) {
    count(stats);
    return MARKERS.depth;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (value instanceof Map) return walk(Object.fromEntries(value), seen, depth, stats);
  if (value instanceof Set) return walk([...value], seen, depth, stats);
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Buffer.isBuffer(value)) return value.toString('base64');
  seen.add(obj);
  try {
    if (Array.isArray(value)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        const s = walk(v, seen, depth + 1, stats);
        if (s !== v && out === null) out = value.slice(0, i);
        if (out !== null) out.push(s === undefined ? null : s);
      }
      return out ?? value;
    }
    // Objects with their own toJSON (other than Date) encode as they choose.
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      try {
        return walk((value as { toJSON: () => unknown }).toJSON(), seen, depth + 1, stats);
      } catch {
        count(stats);
        return MARKERS.function;
      }
    }
    let out: Record<string, unknown> | null = null;
    const rec = value as Record<string, unknown>;
    const keys = Object.keys(rec);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = rec[k];
      const s = walk(v, seen, depth + 1, stats);
      if (s !== v && out === null) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]] = rec[keys[j]];
      }
      if (out !== null && s !== undefined) out[k] = s;
    }
    return out ?? value;
  } finally {
    seen.delete(obj);
  }
}

function count(stats?: CodecStats): void {
  if (stats) stats.unencodable++;
}
