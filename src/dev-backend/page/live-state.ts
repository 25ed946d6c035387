/**
 * What the live page shows, kept up to date from the backend's events:
 * the latest events (a bounded ring), events per type and metrics per type in
 * 5-second buckets over the last 10 minutes, and the last heartbeat of each
 * agent install. Time is the arrival time at the backend, not the item's own
 * timestamp, so a batch replayed from an agent's fallback queue shows up when
 * it arrives.
 *
 * Only chosen fields leave this module: no request header but the install id,
 * no event metadata, never an API key or a signature. Long strings are cut.
 */
import { eventKey } from '../event-key.js';
import type { AcceptedBatch, BatchRecord, WireObject } from '../types.js';

export const BUCKET_MS = 5_000;
export const WINDOW_MS = 10 * 60_000;
/** Events the page can filter among (the table shows the latest 200 matches). */
export const RECENT_LIMIT = 1_000;
const MAX_INSTALLS = 100;
const MAX_TEXT = 300;
const MAX_ERRORS = 20;

export interface EventRow {
  /** Arrival time, epoch ms. */
  at: number;
  timestamp: string | null;
  event_type: string;
  ip_address: string;
  action_taken: string;
  endpoint: string | null;
  method: string | null;
  reason: string;
}

export interface SumCount {
  sum: number;
  count: number;
}

export interface Heartbeat {
  install_id: string;
  status: string;
  uptime: number | null;
  events_sent: number | null;
  events_failed: number | null;
  buffer_size: number | null;
  errors: string[];
  timestamp: string | null;
  /** Arrival time of the last heartbeat, epoch ms. */
  last_seen: number;
  heartbeats: number;
}

/** One accepted batch, as the page needs it. */
export interface BatchView {
  at: number;
  /** The batch's new events (duplicates left out), at most RECENT_LIMIT, oldest first. */
  events: EventRow[];
  /** New events per type (all of them, also those not in `events`). */
  counts: Record<string, number>;
  metrics: Record<string, SumCount>;
  duplicates: number;
}

export interface SeriesBucket<T> {
  /** Bucket start, epoch ms. */
  t: number;
  values: Record<string, T>;
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + '…' : s;
}

function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : text(value);
}

function numberOrNull(value: unknown): number | null {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

export function toEventRow(event: WireObject, at: number): EventRow {
  return {
    at,
    timestamp: textOrNull(event.timestamp),
    event_type: text(event.event_type),
    ip_address: text(event.ip_address),
    action_taken: text(event.action_taken),
    endpoint: textOrNull(event.endpoint),
    method: textOrNull(event.method),
    reason: text(event.reason),
  };
}

function bucketOf(at: number): number {
  return Math.floor(at / BUCKET_MS) * BUCKET_MS;
}

/** Start of the oldest bucket still in the window at `now`. */
export function firstBucket(now: number): number {
  return bucketOf(now) - WINDOW_MS + BUCKET_MS;
}

export class LiveState {
  private recent: EventRow[] = [];
  private readonly eventBuckets = new Map<number, Map<string, number>>();
  private readonly metricBuckets = new Map<number, Map<string, SumCount>>();
  private readonly installs = new Map<string, Heartbeat>();
  private readonly seenKeys = new Set<string>();

  /** Records a batch; returns its view for the live stream. */
  addBatch(batch: AcceptedBatch): BatchView {
    const at = batch.record.at || Date.now();
    const rows: EventRow[] = [];
    const counts: Record<string, number> = {};
    for (const event of batch.events) {
      const key = eventKey(event.idempotency_key);
      if (key !== null) {
        if (this.seenKeys.has(key)) continue;
        this.seenKeys.add(key);
      }
      const row = toEventRow(event, at);
      rows.push(row);
      counts[row.event_type] = (counts[row.event_type] ?? 0) + 1;
    }
    const metrics: Record<string, SumCount> = {};
    for (const metric of batch.metrics) {
      const value = numberOrNull(metric.value);
      if (value === null) continue;
      const type = text(metric.metric_type);
      const agg = (metrics[type] ??= { sum: 0, count: 0 });
      agg.sum += value;
      agg.count += 1;
    }

    this.prune(at);
    const bucket = bucketOf(at);
    if (rows.length > 0) {
      const perType = this.eventBuckets.get(bucket) ?? new Map<string, number>();
      for (const [type, n] of Object.entries(counts)) perType.set(type, (perType.get(type) ?? 0) + n);
      this.eventBuckets.set(bucket, perType);
      this.recent.push(...rows.slice(-RECENT_LIMIT));
      if (this.recent.length > RECENT_LIMIT) this.recent = this.recent.slice(-RECENT_LIMIT);
    }
    if (Object.keys(metrics).length > 0) {
      const perType = this.metricBuckets.get(bucket) ?? new Map<string, SumCount>();
      for (const [type, agg] of Object.entries(metrics)) {
        const into = perType.get(type) ?? { sum: 0, count: 0 };
        into.sum += agg.sum;
        into.count += agg.count;
        perType.set(type, into);
      }
      this.metricBuckets.set(bucket, perType);
    }
    return { at, events: rows.slice(-RECENT_LIMIT), counts, metrics, duplicates: batch.events.length - rows.length };
  }

  /** Records a heartbeat under the install id the agent sent in `X-Agent-Install-Id`. */
  addStatus(record: BatchRecord, status: WireObject): Heartbeat {
    const installId = text(record.headers['x-agent-install-id']) || 'unknown';
    const previous = this.installs.get(installId);
    const errors = Array.isArray(status.errors) ? status.errors.slice(0, MAX_ERRORS).map(text) : [];
    const heartbeat: Heartbeat = {
      install_id: installId,
      status: text(status.status),
      uptime: numberOrNull(status.uptime),
      events_sent: numberOrNull(status.events_sent),
      events_failed: numberOrNull(status.events_failed),
      buffer_size: numberOrNull(status.buffer_size),
      errors,
      timestamp: textOrNull(status.timestamp),
      last_seen: record.at || Date.now(),
      heartbeats: (previous?.heartbeats ?? 0) + 1,
    };
    // Re-inserting keeps the map in last-seen order, so the oldest install is the first to go.
    this.installs.delete(installId);
    this.installs.set(installId, heartbeat);
    if (this.installs.size > MAX_INSTALLS) {
      const oldest = this.installs.keys().next().value;
      if (oldest !== undefined) this.installs.delete(oldest);
    }
    return heartbeat;
  }

  get events(): EventRow[] {
    return this.recent.slice();
  }

  get heartbeats(): Heartbeat[] {
    return [...this.installs.values()].reverse();
  }

  eventSeries(now: number): SeriesBucket<number>[] {
    this.prune(now);
    return [...this.eventBuckets].sort((a, b) => a[0] - b[0]).map(([t, m]) => ({ t, values: Object.fromEntries(m) }));
  }

  metricSeries(now: number): SeriesBucket<SumCount>[] {
    this.prune(now);
    return [...this.metricBuckets].sort((a, b) => a[0] - b[0]).map(([t, m]) => ({ t, values: Object.fromEntries(m) }));
  }

  reset(): void {
    this.recent = [];
    this.eventBuckets.clear();
    this.metricBuckets.clear();
    this.installs.clear();
    this.seenKeys.clear();
  }

  private prune(now: number): void {
    // The window is the current bucket and the 119 before it, as the page draws it.
    const first = firstBucket(now);
    for (const t of this.eventBuckets.keys()) if (t < first) this.eventBuckets.delete(t);
    for (const t of this.metricBuckets.keys()) if (t < first) this.metricBuckets.delete(t);
  }
}
