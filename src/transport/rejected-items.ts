/**
 * Which items of a batch a 422 names. The backend validates the whole
 * request with pydantic, so one bad item makes it refuse every item; FastAPI
 * then lists each problem with its `loc`, e.g.
 * `{"detail":[{"loc":["body","events",50,"timestamp"],...}]}`. When every
 * problem points into the batch's item list, the other items are known good
 * and can be sent again without the bad ones.
 */
import { parseJson } from './response.js';
import type { BatchKind } from './types.js';

/**
 * The sorted indices of the items the 422 body names, or null when it cannot
 * say (not a FastAPI detail list, or a problem outside the item list, such as
 * an envelope field): the caller then drops the whole batch as before.
 */
export function rejectedItemIndices(body: Buffer, kind: BatchKind, itemCount: number): number[] | null {
  const parsed = parseJson(body) as { detail?: unknown } | undefined;
  const detail = parsed !== null && typeof parsed === 'object' ? parsed.detail : undefined;
  if (!Array.isArray(detail) || detail.length === 0) return null;
  const bad = new Set<number>();
  for (const problem of detail) {
    const loc = (problem as { loc?: unknown } | null)?.loc;
    if (!Array.isArray(loc)) return null;
    const at = loc.indexOf(kind);
    const index = at >= 0 ? loc[at + 1] : undefined;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= itemCount) return null;
    bad.add(index);
  }
  return [...bad].sort((a, b) => a - b);
}
