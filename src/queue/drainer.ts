/**
 * QueueDrainer replays the fallback queue's batches, oldest first, beside
 * live traffic. Every `intervalMs` (an unref'd timer) it sends at most
 * `maxBatchesPerTick` batches (the rate bound: a recovering backend is not
 * flooded with the whole backlog at once), each with its original batchId.
 * Delivered or permanently dropped batches are acked; the first batch that
 * comes back undelivered because the backend is still down (network error,
 * 5xx, 429, auth) stops the tick: it and the rest of what was taken are
 * released, untouched, for a later tick.
 *
 * A batch refused only for its kind (2xx `success: false`, e.g. an events
 * quota, and the transport's backoff gate for that kind: `kindBackoff` in the
 * report) stops only that kind: the tick holds that kind's later batches back
 * unsent (at most `maxHeldBackPerTick` of them) and goes on with the other
 * kind's, so queued metrics are not held behind refused events. Every batch
 * not acked goes back to the head of the queue in the order it was taken, so
 * each kind still replays oldest first.
 *
 * A tick is skipped while the transport says sending is pointless (breaker
 * open, auth failed) or the backend asked us to wait (Retry-After).
 */
import { diag } from '@opentelemetry/api';
import type { BatchKind, DropReason, SendOptions, SendReport, TransportStats, WireBatch } from '../transport/types.js';
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
  /**
   * Most batches of a refused kind (success:false backoff) a tick takes and
   * holds back, unsent, to reach the other kind's batches behind them. Default 50.
   */
  maxHeldBackPerTick?: number;
}

export interface QueueDrainerStats {
  ticks: number;
  /** Batches sent again. */
  replayed: number;
  /** Batches removed from the queue (delivered, or dropped for a permanent reason). */
  acked: number;
  /** Batches handed back to the queue (backend still down, their kind refused, or not reached in the tick). */
  released: number;
  itemsDelivered: number;
  /** Of itemsDelivered, the items of events batches (the heartbeat's events_sent counts security events only). */
  eventsDelivered: number;
  /** Ticks skipped because the transport was in breaker-open / auth-failed / Retry-After backoff. */
  skippedTicks: number;
  /** Items of replayed batches the backend rejected for good (removed from the queue, never replayed again), by reason. */
  dropped: Partial<Record<DropReason, number>>;
}

export const DEFAULT_DRAIN_INTERVAL_MS = 1000;
export const DEFAULT_MAX_BATCHES_PER_TICK = 5;
export const DEFAULT_MAX_HELD_BACK_PER_TICK = 50;

/**
 * What one replayed batch tells the tick: whether it was acked, and whether
 * to go on ('go'), stop the tick ('down': the backend is unreachable or
 * failing) or stop only this batch's kind ('kind_backoff').
 */
interface BatchResult {
  acked: boolean;
  next: 'go' | 'down' | 'kind_backoff';
  /** With 'kind_backoff': how long that kind's gate stays closed, ms. */
  gateMs?: number;
}

export class QueueDrainer {
  private readonly transport: DrainTransport;
  private readonly queue: FallbackQueue;
  readonly intervalMs: number;
  readonly maxBatchesPerTick: number;
  readonly maxHeldBackPerTick: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private backoffUntil = 0;
  private readonly abort = new AbortController();
  private readonly s: QueueDrainerStats = { ticks: 0, replayed: 0, acked: 0, released: 0, itemsDelivered: 0, eventsDelivered: 0, skippedTicks: 0, dropped: {} };

  constructor(options: QueueDrainerOptions) {
    this.transport = options.transport;
    this.queue = options.queue;
    this.intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_DRAIN_INTERVAL_MS);
    this.maxBatchesPerTick = Math.max(1, Math.floor(options.maxBatchesPerTick ?? DEFAULT_MAX_BATCHES_PER_TICK));
    this.maxHeldBackPerTick = Math.max(0, Math.floor(options.maxHeldBackPerTick ?? DEFAULT_MAX_HELD_BACK_PER_TICK));
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
   * Replays until the queue is empty, the backend fails, only batches of a
   * refused kind are left, or `deadline` (epoch ms) passes, ignoring the
   * tick rate bound and Retry-After (used by flush and shutdown). Resolves
   * true when the queue was emptied.
   */
  async drainNow(deadline: number): Promise<boolean> {
    if (this.running) await this.running;
    while (Date.now() < deadline && !this.abort.signal.aborted) {
      let r = { taken: 0, acked: 0, down: false };
      await this.guard(this.replay(this.maxBatchesPerTick, deadline).then((result) => (r = result)));
      if (r.taken === 0) return true;
      if (r.down || r.acked === 0) return false;
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

  /**
   * Takes and sends up to `max` batches, oldest first. After a kind-only
   * refusal it keeps taking (at most `maxHeldBackPerTick` batches of refused
   * kinds held back) to reach the other kind's batches; after a failure
   * meaning the backend is down it stops. What was taken and not acked goes
   * back to the head of the queue, in the order taken.
   */
  private async replay(max: number, deadline?: number): Promise<{ taken: number; acked: number; down: boolean }> {
    this.s.ticks++;
    const refused = new Set<BatchKind>();
    const unsettled: string[] = [];
    let taken = 0;
    let sent = 0;
    let acked = 0;
    let heldBack = 0;
    let down = false; // the backend failed, or the abort or deadline came: nothing more this tick
    let stop = false;
    let gateMs = Infinity; // the shortest gate of the kinds refused this tick
    let sentPastRefusal = 0; // batches of another kind reached by looking past a refused one
    try {
      while (!stop && sent < max) {
        // While a kind is refused, take whole ticks' worth: its batches are skipped without a request.
        const want = refused.size === 0 ? max - sent : max;
        const batch = await this.queue.take(want);
        taken += batch.length;
        for (const q of batch) {
          if (!stop && (this.abort.signal.aborted || (deadline !== undefined && Date.now() >= deadline))) down = stop = true;
          if (stop || sent >= max) {
            unsettled.push(q.id);
          } else if (refused.has(q.batch.kind)) {
            unsettled.push(q.id);
            if (++heldBack >= this.maxHeldBackPerTick) stop = true;
          } else {
            sent++;
            if (refused.size > 0) sentPastRefusal++;
            unsettled.push(q.id); // until acked (a throw below must not leave it in flight)
            const r = await this.replayOne(q, deadline);
            if (r.acked) {
              unsettled.pop();
              acked++;
            }
            if (r.next === 'down') down = stop = true;
            else if (r.next === 'kind_backoff') {
              refused.add(q.batch.kind);
              gateMs = Math.min(gateMs, r.gateMs ?? 0);
            }
          }
        }
        if (batch.length < want) break; // nothing more waiting
      }
      // Looking past the refused kind found nothing else to send: the queue holds only what the
      // gate refuses. Later ticks wait for the gate instead of taking and releasing the same batches
      // (up to maxHeldBackPerTick of them from Redis) every interval while it stays closed.
      if (refused.size > 0 && sentPastRefusal === 0 && !down && gateMs > 0 && gateMs !== Infinity) {
        this.backoffUntil = Math.max(this.backoffUntil, Date.now() + gateMs);
      }
      return { taken, acked, down };
    } finally {
      // Whatever was taken and not acked goes back, at the head of the queue, oldest first.
      if (unsettled.length > 0) {
        await this.queue.release(unsettled);
        this.s.released += unsettled.length;
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
      return { acked: false, next: 'down' };
    }
    // A kind's success:false gate holds only that kind (the transport gates it), not the whole drainer.
    const kindOnly = report.kindBackoff === true;
    if (!kindOnly && report.retryAfterMs !== undefined && report.retryAfterMs > 0) this.backoffUntil = Date.now() + report.retryAfterMs;
    this.s.itemsDelivered += report.delivered;
    if (q.batch.kind === 'events') this.s.eventsDelivered += report.delivered;
    for (const d of report.dropped) countDrop(this.s.dropped, d.reason, d.count);
    const notDelivered: BatchResult['next'] = kindOnly ? 'kind_backoff' : 'down';
    const gate = kindOnly ? { gateMs: report.retryAfterMs ?? 0 } : {};
    const untouched = report.delivered === 0 && report.dropped.length === 0;
    if (untouched && report.outcome !== 'delivered') return { acked: false, next: notDelivered, ...gate };
    // Something was delivered or dropped: queue what is left (fresh 413 halves) before removing the original,
    // so a crash in between duplicates rather than loses.
    for (const pending of report.pending) await this.queue.enqueue(pending);
    await this.queue.ack([q.id]);
    this.s.acked++;
    return { acked: true, next: report.outcome === 'delivered' ? 'go' : notDelivered, ...gate };
  }

  getStats(): QueueDrainerStats {
    return { ...this.s, dropped: { ...this.s.dropped } };
  }
}
