import type { BreakerState } from './circuit-breaker.js';
import type { FailureClass } from './response.js';
import type { DropReason, TransportStats } from './types.js';

/** Mutable counters behind `HTTPTransport.getStats()`; all cumulative. */
export class TransportStatsRecorder {
  private requestsSent = 0;
  private requestsFailed = 0;
  private readonly failuresByClass: Record<string, number> = {};
  private retries = 0;
  private bytesSent = 0;
  private batchesDelivered = 0;
  private itemsDelivered = 0;
  private readonly dropped: Partial<Record<DropReason, number>> = {};
  private backendDroppedEvents = 0;
  private lastSuccessAt: number | null = null;
  private lastDeliveryAt: number | null = null;
  private lastFailureAt: number | null = null;
  private lastStatus: number | null = null;

  /** One HTTP request went out with `wireBytes` of body. */
  request(wireBytes: number): void {
    this.requestsSent++;
    this.bytesSent += wireBytes;
  }

  response(status: number): void {
    this.lastStatus = status;
  }

  success(at: number): void {
    this.lastSuccessAt = at;
  }

  failure(cls: FailureClass, at: number): void {
    this.requestsFailed++;
    this.failuresByClass[cls] = (this.failuresByClass[cls] ?? 0) + 1;
    this.lastFailureAt = at;
  }

  retry(): void {
    this.retries++;
  }

  delivered(items: number, at: number): void {
    this.batchesDelivered++;
    this.itemsDelivered += items;
    this.lastDeliveryAt = at;
  }

  drop(reason: DropReason, count: number): void {
    if (count <= 0) return;
    this.dropped[reason] = (this.dropped[reason] ?? 0) + count;
  }

  /** Events the backend said it dropped after accepting the request. */
  backendDropped(events: number): void {
    this.backendDroppedEvents += events;
  }

  snapshot(breakerState: BreakerState, authFailed: boolean): TransportStats {
    return {
      requestsSent: this.requestsSent,
      requestsFailed: this.requestsFailed,
      failuresByClass: { ...this.failuresByClass },
      retries: this.retries,
      bytesSent: this.bytesSent,
      batchesDelivered: this.batchesDelivered,
      itemsDelivered: this.itemsDelivered,
      dropped: { ...this.dropped },
      backendDroppedEvents: this.backendDroppedEvents,
      breakerState,
      authFailed,
      lastSuccessAt: this.lastSuccessAt,
      lastDeliveryAt: this.lastDeliveryAt,
      lastFailureAt: this.lastFailureAt,
      lastStatus: this.lastStatus,
    };
  }
}
