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

/**
 * True when JSON.stringify of `value` loses nothing and needs no marker, and
 * an OTel SDK takes it as a log attribute AnyValue as it is: plain objects
 * (no `__proto__` key, which a copy would turn into a prototype), arrays
 * without holes or `undefined`, strings, finite numbers, booleans, null;
 * `undefined` object properties are allowed (JSON and both SDK lines omit
 * them). Allocation-free: it runs on the host's request path for every event.
 * Depth-bounded, so a cycle is simply "not plain" and goes the safe way.
 */
export function isPlainJsonTree(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainJsonTree(value[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const rec = value as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (k === '__proto__' || (v !== undefined && !isPlainJsonTree(v, depth + 1))) return false;
  }
  return true;
}

/**
 * The JSON of app data exactly as the codec writes it (`encodeEvent`):
 * JSON.stringify as is, unless it throws (cycles, BigInt) or would hide a
 * value (functions, symbols, non-finite numbers), in which case the
 * sanitising walk's markers stand in (and are counted).
 */
export function toJsonText(value: unknown, stats?: CodecStats): string {
  try {
    const out = JSON.stringify(value);
    if (out !== undefined && !mayHideValues(value)) return out;
  } catch {
    // cycles or BigInt: handled by the walk below
  }
  return JSON.stringify(toJsonSafe(value, stats)) ?? 'null';
}

/** Cheap check for values JSON.stringify would drop without a trace (the codec's rule); runs only for data that is not a plain tree. */
function mayHideValues(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol';
  // JSON.stringify writes a Map, a Set or an Error as {}: their contents would go without a trace.
  if (value instanceof Map || value instanceof Set || value instanceof Error) return true;
  for (const k in value as Record<string, unknown>) {
    const v = (value as Record<string, unknown>)[k];
    const t = typeof v;
    if (t === 'function' || t === 'symbol' || (t === 'number' && !Number.isFinite(v as number))) return true;
    if (t === 'object' && v !== null && mayHideValues(v)) return true;
  }
  return false;
}

/**
 * App data as a log attribute value whose JSON is byte for byte the codec's:
 * the value itself when it is a plain JSON tree (the common case: no copy
 * here, the SDK deep-copies at emit), otherwise a fresh plain tree parsed
 * from `toJsonText` (Dates become their ISO strings, unencodable values
 * counted markers). The rare tree with a `__proto__` key stays the JSON
 * string: a map copy would lose that key, and the way back reads both shapes.
 */
export function toAttributeValue(value: unknown, stats?: CodecStats): unknown {
  if (isPlainJsonTree(value)) return value;
  return fromJsonText(toJsonText(value, stats));
}

/**
 * `toAttributeValue` for an object whose values the codec encodes one by one
 * (the event's extra keys: one odd value must not change how the others encode).
 */
export function toAttributeMap(obj: Record<string, unknown>, stats?: CodecStats): unknown {
  if (isPlainJsonTree(obj)) return obj;
  let text = '';
  for (const k in obj) {
    const v = obj[k];
    if (v !== undefined) text += (text === '' ? '' : ',') + JSON.stringify(k) + ':' + toJsonText(v, stats);
  }
  return fromJsonText('{' + text + '}');
}

function fromJsonText(text: string): unknown {
  return text.includes('"__proto__":') ? text : JSON.parse(text);
}
