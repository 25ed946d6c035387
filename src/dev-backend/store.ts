/**
 * What the dev backend has received: unique events (deduplicated on
 * `idempotency_key`, as the backend's unique constraint does), every metric
 * and status, one record per API POST, and the counters.
 */
import { eventKey } from './event-key.js';
import type { BatchRecord, DevBackendStats, RequestRecord, WireObject } from './types.js';

function emptyStats(): DevBackendStats {
  return { requests: 0, eventsReceived: 0, duplicateEvents: 0, metricsReceived: 0, statuses: 0, rejected: { byStatus: {} } };
}

export class Store {
  events: WireObject[] = [];
  metrics: WireObject[] = [];
  statuses: WireObject[] = [];
  batches: BatchRecord[] = [];
  stats: DevBackendStats = emptyStats();
  private keys = new Set<string>();
  /** Unique events stored (counted also when `keepEvents` is false). */
  private uniqueEvents = 0;

  /** With `keepEvents` false, `events` stays empty: only the keys (for deduplication) and the counts are kept. */
  constructor(private readonly keepEvents = true) {}

  /** Stores a batch's items; returns how many events were duplicates. */
  addItems(events: WireObject[], metrics: WireObject[]): number {
    let duplicates = 0;
    for (const event of events) {
      const key = eventKey(event.idempotency_key);
      if (key !== null) {
        if (this.keys.has(key)) {
          duplicates += 1;
          continue;
        }
        this.keys.add(key);
      }
      this.uniqueEvents += 1;
      if (this.keepEvents) this.events.push(event);
    }
    for (const metric of metrics) this.metrics.push(metric);
    this.stats.eventsReceived += events.length;
    this.stats.duplicateEvents += duplicates;
    this.stats.metricsReceived += metrics.length;
    return duplicates;
  }

  addStatus(status: WireObject): void {
    this.statuses.push(status);
    this.stats.statuses += 1;
  }

  addBatchRecord(record: BatchRecord): void {
    this.batches.push(record);
  }

  /** Counts a request to an API or unknown route and, when it failed (4xx, 5xx, reset), its status. */
  countRequest(record: RequestRecord): void {
    this.stats.requests += 1;
    if (record.status >= 200 && record.status < 400) return;
    const key = record.status === 0 ? 'reset' : String(record.status);
    const byStatus = this.stats.rejected.byStatus;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }

  /** Unique events stored so far, whether or not their objects are kept. */
  get eventCount(): number {
    return this.uniqueEvents;
  }

  /** Whether an event with this idempotency_key was stored (in any of the forms pydantic reads as the same UUID). */
  hasEvent(idempotencyKey: string): boolean {
    const key = eventKey(idempotencyKey);
    return key !== null && this.keys.has(key);
  }

  idempotencyKeys(): string[] {
    return this.events.map((e) => e.idempotency_key).filter((k): k is string => typeof k === 'string');
  }

  reset(): void {
    this.events = [];
    this.metrics = [];
    this.statuses = [];
    this.batches = [];
    this.stats = emptyStats();
    this.keys.clear();
    this.uniqueEvents = 0;
  }
}
