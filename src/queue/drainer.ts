/**
 * QueueDrainer replays the fallback queue's batches, oldest first, beside
 * live traffic. Every `intervalMs` (an unref'd timer) it takes at most
 * `maxBatchesPerTick` batches (the rate bound: a recovering backend is not
 * flooded with the whole backlog at once) and sends each with its original
 * batchId. Delivered or permanently dropped batches are acked; the first
 * batch that comes back undelivered means the backend is still down: it and
 * the rest of the tick are released, untouched, for a later tick.
 *
 * A tick is skipped while the transport says sending is pointless (breaker
 * open, auth failed) or the backend asked us to wait (Retry-After).
 */
import { diag } from '@opentelemetry/api';
import type { DropReason, SendOptions, SendReport, TransportStats, WireBatch } from '../transport/types.js';
import { countDrop, type FallbackQueue, type QueuedBatch } from './fallback-queue.js';

/** What the drainer needs from the transport (HTTPTransport implements it). */
export interface DrainTransport {
  sendBatch(batch: WireBatch, opts?: SendOptions): Promise<SendReport>;
  /** Optional: breaker and auth state, read before each tick. */
  getStats?(): Pick<TransportStats, 'breakerState' | 'authFailed'>;
}

export interface QueueDrainerOptions {
  transport: DrainTransport;
  queue: FallbackQueue;
  /** Milliseconds between ticks. Default 1000. */
  intervalMs?: number;
  /** Most batches replayed per tick. Default 5. */
  maxBatchesPerTick?: number;
}

export interface QueueDrainerStats {
  ticks: number;
  /** Batches sent again. */
  replayed: number;
  /** Batches removed from the queue (delivered, or dropped for a permanent reason). */
  acked: number;
  /** Batches handed back to the queue (backend still down). */
  released: number;
  itemsDelivered: number;
  /** Ticks skipped because the transport was in breaker-open / auth-failed / Retry-After backoff. */
  skippedTicks: number;
  /** Items of replayed batches the backend rejected for good (removed from the queue, never replayed again), by reason. */
  dropped: Partial<Record<DropReason, number>>;
}

export const DEFAULT_DRAIN_INTERVAL_MS = 1000;
export const DEFAULT_MAX_BATCHES_PER_TICK = 5;

type BatchResult = 'done' | 'down';

export class QueueDrainer {
  private readonly transport: DrainTransport;
  private readonly queue: FallbackQueue;
  readonly intervalMs: number;
  readonly maxBatchesPerTick: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private backoffUntil = 0;
  private readonly abort = new AbortController();
  private readonly s: QueueDrainerStats = { ticks: 0, replayed: 0, acked: 0, released: 0, itemsDelivered: 0, skippedTicks: 0, dropped: {} };

  constructor(options: QueueDrainerOptions) {
    this.transport = options.transport;
    this.queue = options.queue;
    this.intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_DRAIN_INTERVAL_MS);
    this.maxBatchesPerTick = Math.max(1, Math.floor(options.maxBatchesPerTick ?? DEFAULT_MAX_BATCHES_PER_TICK));
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer, letting a replay in flight finish; `drainNow()` still works (a shutdown's last drain). */
  async pause(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Stops the timer and aborts a replay in flight (its batches are released, not lost). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running;
  }

  /** True when sending now has a chance: breaker not open, auth not failed, no Retry-After pending. */
  private ready(now: number): boolean {
    if (now < this.backoffUntil) return false;
    const st = this.transport.getStats?.();
    return !st || (st.breakerState !== 'OPEN' && !st.authFailed);
  }

  /** One tick: replays up to `maxBatchesPerTick` batches unless a tick is already running or the transport is backing off. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    if (!this.ready(Date.now())) {
      this.s.skippedTicks++;
      return Promise.resolve();
    }
    return this.guard(this.replay(this.maxBatchesPerTick));
  }

  /**
   * Replays until the queue is empty, the backend fails, or `deadline`
   * (epoch ms) passes, ignoring the tick rate bound and Retry-After (used by
   * flush and shutdown). Resolves true when the queue was emptied.
   */
  async drainNow(deadline: number): Promise<boolean> {
    if (this.running) await this.running;
    while (Date.now() < deadline && !this.abort.signal.aborted) {
      let taken = 0;
      let down = false;
      await this.guard(
        this.replay(this.maxBatchesPerTick, deadline).then((r) => {
          taken = r.taken;
          down = r.down;
        }),
      );
      if (taken === 0) return true;
      if (down) return false;
    }
    return false;
  }

  /** Marks `p` as the running replay until it settles; never rejects. */
  private guard(p: Promise<unknown>): Promise<void> {
    const wrapped: Promise<void> = p
      .then(
        () => undefined,
        (err: unknown) => diag.error('guard-agent: queue replay failed', err),
      )
      .finally(() => {
        if (this.running === wrapped) this.running = null;
      });
    this.running = wrapped;
    return wrapped;
  }

  private async replay(max: number, deadline?: number): Promise<{ taken: number; down: boolean }> {
    this.s.ticks++;
    const taken = await this.queue.take(max);
    let i = 0;
    try {
      for (; i < taken.length; i++) {
        if (this.abort.signal.aborted || (deadline !== undefined && Date.now() >= deadline)) break;
        if ((await this.replayOne(taken[i], deadline)) === 'down') {
          i++;
          return { taken: taken.length, down: true };
        }
      }
      return { taken: taken.length, down: i < taken.length };
    } finally {
      // Whatever was taken and not handled goes back, at the head of the queue.
      const rest = taken.slice(i).map((q) => q.id);
      if (rest.length > 0) {
        await this.queue.release(rest);
        this.s.released += rest.length;
      }
    }
  }

  private async replayOne(q: QueuedBatch, deadline?: number): Promise<BatchResult> {
    this.s.replayed++;
    let report: SendReport;
    try {
      report = await this.transport.sendBatch(q.batch, { signal: this.abort.signal, ...(deadline !== undefined ? { deadline } : {}) });
    } catch (err) {
      diag.warn(`guard-agent: replay of batch ${q.batch.batchId} threw; releasing it`, err);
      await this.queue.release([q.id]);
      this.s.released++;
      return 'down';
    }
    if (report.retryAfterMs !== undefined && report.retryAfterMs > 0) this.backoffUntil = Date.now() + report.retryAfterMs;
    this.s.itemsDelivered += report.delivered;
    for (const d of report.dropped) countDrop(this.s.dropped, d.reason, d.count);
    const untouched = report.delivered === 0 && report.dropped.length === 0;
    if (untouched && report.outcome !== 'delivered') {
      await this.queue.release([q.id]);
      this.s.released++;
      return 'down';
    }
    // Something was delivered or dropped: queue what is left (fresh 413 halves) before removing the original,
    // so a crash in between duplicates rather than loses.
    for (const pending of report.pending) await this.queue.enqueue(pending);
    await this.queue.ack([q.id]);
    this.s.acked++;
    return report.outcome === 'delivered' ? 'done' : 'down';
  }

  getStats(): QueueDrainerStats {
    return { ...this.s, dropped: { ...this.s.dropped } };
  }
}
