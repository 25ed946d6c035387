/**
 * EventBuffer: the seed's buffer API (`addEvent`, `addMetric`, `flush`,
 * `getStats`, `clear`, `isFull`) for code that wants to batch by hand. The
 * agent's own pipeline does not use it (the SDK's batch processor batches);
 * `flush()` hands the items to a sink, normally a `GuardAgentHandler`.
 *
 * Unlike the seed (reference 5.2 and 11.1-3, 11.8): a failed flush puts the
 * items back in order without losing any, `raise` reaches the caller, and
 * `block` waits at most `blockTimeoutMs` before falling back to drop-oldest.
 */
import { BufferFullError } from '../errors.js';
import { SecurityEvent, SecurityMetric, type SecurityEventInput, type SecurityMetricInput } from '../models/index.js';

/** Where a flush delivers: anything with the handler's two ingest methods. */
export interface BufferSink {
  sendEvent(event: SecurityEvent): Promise<unknown> | unknown;
  sendMetric(metric: SecurityMetric): Promise<unknown> | unknown;
}

export interface EventBufferOptions {
  /** Capacity of each of the two buffers (events, metrics). Default 100. */
  bufferSize?: number;
  bufferOverflowPolicy?: 'drop' | 'block' | 'raise';
  /** `block` waits at most this long for space, then drops the oldest (counted). Default 5000. */
  blockTimeoutMs?: number;
  /** Flush automatically once a buffer holds this fraction of its capacity. Default 0.8. */
  highWatermarkRatio?: number;
}

export interface EventBufferStats {
  eventsBuffered: number;
  metricsBuffered: number;
  eventsFlushed: number;
  metricsFlushed: number;
  eventsDropped: number;
  metricsDropped: number;
  currentEventBufferSize: number;
  currentMetricBufferSize: number;
  flushFailures: number;
  lastFlushTime: number | null;
}

type Kind = 'event' | 'metric';

export class EventBuffer {
  private readonly events: SecurityEvent[] = [];
  private readonly metrics: SecurityMetric[] = [];
  private readonly capacity: number;
  private readonly policy: 'drop' | 'block' | 'raise';
  private readonly blockTimeoutMs: number;
  private readonly watermark: number;
  private flushing: Promise<{ events: number; metrics: number }> | null = null;
  private spaceWaiters: Array<() => void> = [];
  private readonly stats: EventBufferStats = {
    eventsBuffered: 0,
    metricsBuffered: 0,
    eventsFlushed: 0,
    metricsFlushed: 0,
    eventsDropped: 0,
    metricsDropped: 0,
    currentEventBufferSize: 0,
    currentMetricBufferSize: 0,
    flushFailures: 0,
    lastFlushTime: null,
  };

  constructor(private readonly sink: BufferSink | null, options: EventBufferOptions = {}) {
    this.capacity = options.bufferSize ?? 100;
    this.policy = options.bufferOverflowPolicy ?? 'drop';
    this.blockTimeoutMs = options.blockTimeoutMs ?? 5000;
    this.watermark = Math.max(1, Math.floor(this.capacity * (options.highWatermarkRatio ?? 0.8)));
  }

  /** Validates (throws `GuardAgentValidationError` naming the field) and buffers one event. */
  async addEvent(input: SecurityEvent | SecurityEventInput): Promise<void> {
    await this.add('event', SecurityEvent.from(input));
  }

  async addMetric(input: SecurityMetric | SecurityMetricInput): Promise<void> {
    await this.add('metric', SecurityMetric.from(input));
  }

  isFull(kind?: Kind): boolean {
    if (kind === 'event') return this.events.length >= this.capacity;
    if (kind === 'metric') return this.metrics.length >= this.capacity;
    return this.events.length >= this.capacity || this.metrics.length >= this.capacity;
  }

  /**
   * Sends everything buffered to the sink. Items the sink fails on go back to
   * the front of their buffer, in order. Concurrent calls run one after the
   * other, so a flush always covers what was added before it was called.
   */
  async flush(): Promise<{ events: number; metrics: number }> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    const run = this.flushOnce().finally(() => {
      if (this.flushing === run) this.flushing = null;
    });
    this.flushing = run;
    return run;
  }

  /** Empties both buffers; returns how many items were discarded (counted as dropped). */
  clear(): number {
    const n = this.events.length + this.metrics.length;
    this.stats.eventsDropped += this.events.length;
    this.stats.metricsDropped += this.metrics.length;
    this.events.length = 0;
    this.metrics.length = 0;
    this.wakeWaiters();
    return n;
  }

  getStats(): EventBufferStats {
    return { ...this.stats, currentEventBufferSize: this.events.length, currentMetricBufferSize: this.metrics.length };
  }

  private async add(kind: Kind, item: SecurityEvent | SecurityMetric): Promise<void> {
    const list = (kind === 'event' ? this.events : this.metrics) as Array<typeof item>;
    if (list.length >= this.capacity) await this.makeRoom(kind, list);
    list.push(item);
    if (kind === 'event') this.stats.eventsBuffered++;
    else this.stats.metricsBuffered++;
    if (list.length >= this.watermark && this.sink) void this.flush();
  }

  private async makeRoom(kind: Kind, list: unknown[]): Promise<void> {
    if (this.policy === 'raise') {
      throw new BufferFullError(`${kind === 'event' ? 'Event' : 'Metric'} buffer full at ${this.capacity} items and bufferOverflowPolicy is 'raise'`);
    }
    if (this.policy === 'block') {
      if (this.sink) void this.flush();
      const deadline = Date.now() + this.blockTimeoutMs;
      while (list.length >= this.capacity && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now())));
          timer.unref();
          this.spaceWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (list.length < this.capacity) return;
    }
    // drop (or block that timed out): drop the oldest, counted.
    list.shift();
    if (kind === 'event') this.stats.eventsDropped++;
    else this.stats.metricsDropped++;
  }

  private async flushOnce(): Promise<{ events: number; metrics: number }> {
    const events = this.events.splice(0);
    const metrics = this.metrics.splice(0);
    this.wakeWaiters();
    if (!this.sink) {
      this.putBack(this.events, events, 'event');
      this.putBack(this.metrics, metrics, 'metric');
      return { events: 0, metrics: 0 };
    }
    const sentEvents = await this.deliver(events, (e) => this.sink!.sendEvent(e), this.events, 'event');
    const sentMetrics = await this.deliver(metrics, (m) => this.sink!.sendMetric(m), this.metrics, 'metric');
    this.stats.eventsFlushed += sentEvents;
    this.stats.metricsFlushed += sentMetrics;
    this.stats.lastFlushTime = Date.now();
    return { events: sentEvents, metrics: sentMetrics };
  }

  /** Sends items one by one; on the first failure the rest go back to the front of the buffer. */
  private async deliver<T>(items: T[], send: (item: T) => unknown, buffer: T[], kind: Kind): Promise<number> {
    for (let i = 0; i < items.length; i++) {
      try {
        await send(items[i]);
      } catch {
        this.stats.flushFailures++;
        this.putBack(buffer, items.slice(i), kind);
        return i;
      }
    }
    return items.length;
  }

  /** Re-inserts `items` before anything added meanwhile; overflow drops the OLDEST, counted. */
  private putBack<T>(buffer: T[], items: T[], kind: Kind): void {
    buffer.unshift(...items);
    const excess = buffer.length - this.capacity;
    if (excess > 0) {
      buffer.splice(0, excess);
      if (kind === 'event') this.stats.eventsDropped += excess;
      else this.stats.metricsDropped += excess;
    }
  }

  private wakeWaiters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }
}
