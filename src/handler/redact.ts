/**
 * Redacts sensitive keys (`sensitiveHeaders`, case-insensitive) in event
 * metadata and metric tags before they leave the process: metadata often
 * carries request headers, and an `Authorization` or `Cookie` value must not
 * reach the backend or a collector. Copies only when something matches.
 */
export const REDACTED = '[REDACTED]';

export function redactKeys<T extends Record<string, unknown>>(obj: T, sensitive: ReadonlySet<string>, depth = 0): T {
  // Depth-bounded: metadata may be cyclic (the codec marks cycles later).
  if (sensitive.size === 0 || depth > 8) return obj;
  let out: Record<string, unknown> | null = null;
  for (const key in obj) {
    const value = obj[key];
    let next: unknown = value;
    if (sensitive.has(key.toLowerCase())) next = REDACTED;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
      next = redactKeys(value as Record<string, unknown>, sensitive, depth + 1);
    }
    if (next !== value) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return (out ?? obj) as T;
}
