/**
 * Redacts sensitive keys (`sensitiveHeaders`, case-insensitive) in event
 * metadata and metric tags before they leave the process: metadata often
 * carries request headers, and an `Authorization` or `Cookie` value must not
 * reach the backend or a collector. Copies only when something matches.
 */
import { type CodecStats, toJsonText } from '../models/json-safe.js';

export const REDACTED = '[REDACTED]';

/** Nesting the direct walk follows; deeper (or cyclic) data is redacted in its JSON form. */
const MAX_WALK_DEPTH = 8;
const TOO_DEEP = Symbol('too deep');

export function redactKeys<T extends Record<string, unknown>>(obj: T, sensitive: ReadonlySet<string>, stats?: CodecStats): T {
  if (sensitive.size === 0) return obj;
  const out = walk(obj, sensitive, 0, MAX_WALK_DEPTH);
  if (out !== TOO_DEEP) return out as T;
  // A cycle (or very deep data): a redacted copy would still reach the
  // unredacted original through the back reference. Redact the codec's
  // acyclic JSON form instead: cycles become counted markers, Dates ISO
  // strings, so the wire JSON is what the codec would have written.
  return walk(JSON.parse(toJsonText(obj, stats)) as Record<string, unknown>, sensitive, 0, Infinity) as T;
}

function walk(obj: Record<string, unknown>, sensitive: ReadonlySet<string>, depth: number, maxDepth: number): Record<string, unknown> | typeof TOO_DEEP {
  if (depth > maxDepth) return TOO_DEEP;
  let out: Record<string, unknown> | null = null;
  for (const key in obj) {
    const value = obj[key];
    const next = sensitive.has(key.toLowerCase()) ? REDACTED : redactValue(value, sensitive, depth, maxDepth);
    if (next === TOO_DEEP) return TOO_DEEP;
    if (next !== value) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return out ?? obj;
}

/** Objects inside arrays are walked too (a list of header objects is common metadata); scalars pass as they are. */
function redactValue(value: unknown, sensitive: ReadonlySet<string>, depth: number, maxDepth: number): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  if (!Array.isArray(value)) return walk(value as Record<string, unknown>, sensitive, depth + 1, maxDepth);
  if (depth + 1 > maxDepth) return TOO_DEEP;
  let out: unknown[] | null = null;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const next = redactValue(item, sensitive, depth + 1, maxDepth);
    if (next === TOO_DEEP) return TOO_DEEP;
    if (next !== item) {
      out ??= value.slice();
      out[i] = next;
    }
  }
  return out ?? value;
}
