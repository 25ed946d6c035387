/**
 * The ingest-time bound on an event's app data (metadata, extra keys): data
 * whose JSON would have more values than the event's byte cap cannot fit the
 * cap, so it is replaced by the codec's truncation marker at once, before
 * any walk of the shipping path expands it (see json-nodes.ts: a small
 * object sharing its parts can expand without bound). The codec would have
 * cut it too; only its size stays unknown (`original_bytes: null`).
 * Everything else is left to the codec, which cuts by exact bytes.
 */
import { EXTRA_TRUNCATION_MARKER_KEY, listedKeys, truncationMarker } from './codec.js';
import type { CodecStats } from './json-safe.js';
import { jsonValuesExceed } from './json-nodes.js';
import type { SecurityEvent } from './security-event.js';

/**
 * Returns the event with oversize app data cut: `event` itself when nothing
 * needed cutting, else `writable(event)` (the caller's own copy of an
 * instance the app passed, or the event itself) with the markers set.
 */
export function cutOversizeAppData(
  event: SecurityEvent,
  maxEventBytes: number,
  stats: CodecStats | undefined,
  writable: (event: SecurityEvent) => SecurityEvent,
): SecurityEvent {
  // The codec's budget for the names a marker lists.
  const listBudget = Math.floor(maxEventBytes / 8);
  let out = event;
  if (jsonValuesExceed(event.metadata, maxEventBytes)) {
    out = writable(event);
    out.metadata = truncationMarker(Object.keys(event.metadata), null, listBudget);
    if (stats) stats.truncated++;
  }
  if (jsonValuesExceed(event.extra, maxEventBytes)) {
    if (out === event) out = writable(event);
    out.extra = { [EXTRA_TRUNCATION_MARKER_KEY]: listedKeys(Object.keys(event.extra), listBudget) };
    if (stats) stats.truncated++;
  }
  return out;
}
