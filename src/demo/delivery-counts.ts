/**
 * What reached each side, counted the same way: at the guard backend, the
 * unique security events by type, the metric records by type and the status
 * heartbeats; at the OTLP receiver, the guard log records by
 * `guard.event_type`, the metric points by name, the spans and their
 * `guard.security_event` span events. Events are matched across the two
 * sides by their idempotency key.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DevBackend } from '../dev-backend/index.js';
import type { OtlpReceiver } from '../otlp-receiver/index.js';

export const GUARD_EVENT_NAME = 'guard.security_event';

export interface BackendSide {
  /** Unique events (deduplicated on idempotency_key, as the backend does). */
  uniqueEvents: number;
  /** Event items received, duplicates included. */
  eventsReceived: number;
  eventsByType: Record<string, number>;
  metricRecords: number;
  metricsByType: Record<string, number>;
  heartbeats: number;
  eventKeys: Set<string>;
}

export interface OtlpSide {
  guardLogs: number;
  guardLogsByType: Record<string, number>;
  metricPoints: number;
  pointsByMetric: Record<string, number>;
  spans: number;
  guardSpanEvents: number;
  eventKeys: Set<string>;
}

export interface DeliveryCounts {
  backend: BackendSide;
  otlp: OtlpSide;
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

export function countBackend(backend: DevBackend): BackendSide {
  const eventsByType: Record<string, number> = {};
  const eventKeys = new Set<string>();
  for (const e of backend.events) {
    bump(eventsByType, String(e.event_type));
    if (typeof e.idempotency_key === 'string') eventKeys.add(e.idempotency_key);
  }
  const metricsByType: Record<string, number> = {};
  for (const m of backend.metrics) bump(metricsByType, String(m.metric_type));
  return {
    uniqueEvents: backend.events.length,
    eventsReceived: backend.stats.eventsReceived,
    eventsByType,
    metricRecords: backend.metrics.length,
    metricsByType,
    heartbeats: backend.statuses.length,
    eventKeys,
  };
}

export function countOtlp(receiver: OtlpReceiver): OtlpSide {
  const guardLogsByType: Record<string, number> = {};
  const eventKeys = new Set<string>();
  let guardLogs = 0;
  for (const log of receiver.logs) {
    const type = log.attributes['guard.event_type'];
    if (log.eventName !== GUARD_EVENT_NAME && type === undefined) continue;
    guardLogs++;
    bump(guardLogsByType, String(type));
    const key = log.attributes['guard.idempotency_key'];
    if (typeof key === 'string') eventKeys.add(key);
  }
  let guardSpanEvents = 0;
  for (const span of receiver.spans) for (const e of span.events) if (e.name === GUARD_EVENT_NAME) guardSpanEvents++;
  const counts = receiver.counts();
  return {
    guardLogs,
    guardLogsByType,
    metricPoints: counts.metricPoints,
    pointsByMetric: counts.pointsByMetric,
    spans: counts.spans,
    guardSpanEvents,
    eventKeys,
  };
}

export function countDeliveries(backend: DevBackend, receiver: OtlpReceiver): DeliveryCounts {
  return { backend: countBackend(backend), otlp: countOtlp(receiver) };
}

/** A fingerprint of the totals, to tell when they stop moving. */
function totals(c: DeliveryCounts): string {
  const b = c.backend;
  const o = c.otlp;
  return [b.eventsReceived, b.metricRecords, b.heartbeats, o.guardLogs, o.metricPoints, o.spans].join(',');
}

/**
 * Polls until the totals have not changed for `quietMs` (or `timeoutMs`
 * passed, or the signal aborted) and returns the last counts.
 */
export async function settledCounts(
  read: () => DeliveryCounts,
  { quietMs = 500, timeoutMs = 5000, signal }: { quietMs?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<DeliveryCounts> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let since = Date.now();
  while (Date.now() - since < quietMs && Date.now() < deadline && !signal?.aborted) {
    await sleep(50);
    const next = read();
    if (totals(next) !== totals(last)) since = Date.now();
    last = next;
  }
  return last;
}
