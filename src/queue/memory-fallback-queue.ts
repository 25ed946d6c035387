/**
 * A bounded in-process FIFO of batches: the queue used when no Redis is
 * configured, and the Redis queue's fallback while Redis is unreachable.
 *
 * Bounds count every batch held (waiting and in flight). When a new batch
 * pushes the queue over a bound, the oldest *waiting* batches are dropped and
 * counted (`queue_full`, in items); in-flight batches are the drainer's and
 * are never dropped under its feet. Nothing survives the process.
 */
import { diag } from '@opentelemetry/api';
import type { DropReason, WireBatch } from '../transport/types.js';
import {
  approximateBatchBytes,
  countDrop,
  type FallbackQueue,
  type QueuedBatch,
  type QueueStats,
} from './fallback-queue.js';

export interface MemoryFallbackQueueOptions {
  /** Most batches held at once. Default 1000. */
  maxBatches?: number;
  /** Most approximate bytes held at once. Default 16 MiB. */
  maxBytes?: number;
}

interface Entry {
  id: string;
  batch: WireBatch;
  bytes: number;
}

export const MEMORY_ID_PREFIX = 'm';

export class MemoryFallbackQueue implements FallbackQueue {
  readonly maxBatches: number;
  readonly maxBytes: number;
  // Waiting entries in take order; a deque over an array: `head` moves
  // forward on take, backward on release (so both are O(1) amortised).
  private waiting: (Entry | undefined)[] = [];
  private head = 0;
  private readonly inFlight = new Map<string, Entry>();
  private seq = 0;
  private bytes = 0;
  private items = 0;
  private enqueued = 0;
  private acked = 0;
  private readonly dropped: Partial<Record<DropReason, number>> = {};
  private closed = false;

  constructor(options: MemoryFallbackQueueOptions = {}) {
    this.maxBatches = Math.max(1, Math.floor(options.maxBatches ?? 1000));
    this.maxBytes = Math.max(1, Math.floor(options.maxBytes ?? 16 * 1024 * 1024));
  }

  /** Synchronous core of `enqueue` (the Redis queue calls it on its hot path). */
  push(batch: WireBatch): void {
    const entry: Entry = { id: `${MEMORY_ID_PREFIX}${++this.seq}`, batch, bytes: approximateBatchBytes(batch) };
    this.waiting.push(entry);
    this.bytes += entry.bytes;
    this.items += batch.items.length;
    this.enqueued++;
    this.trim();
  }

  async enqueue(batch: WireBatch): Promise<void> {
    if (this.closed) {
      // Its contents were already counted at close; a late batch would vanish uncounted.
      countDrop(this.dropped, 'agent_stopped', batch.items.length);
      return;
    }
    this.push(batch);
  }

  /** Synchronous core of `take`. */
  takeNow(max: number): QueuedBatch[] {
    const out: QueuedBatch[] = [];
    while (out.length < max && this.head < this.waiting.length) {
      const entry = this.waiting[this.head];
      this.waiting[this.head++] = undefined;
      if (!entry) continue;
      this.inFlight.set(entry.id, entry);
      out.push({ id: entry.id, batch: entry.batch });
    }
    this.compact();
    return out;
  }

  async take(max: number): Promise<QueuedBatch[]> {
    return this.takeNow(max);
  }

  /** Synchronous core of `ack`; returns how many of the ids were in flight. */
  ackNow(ids: string[]): number {
    let count = 0;
    for (const id of ids) {
      const entry = this.inFlight.get(id);
      if (!entry) continue;
      this.inFlight.delete(id);
      this.forget(entry);
      count++;
    }
    this.acked += count;
    return count;
  }

  async ack(ids: string[]): Promise<void> {
    this.ackNow(ids);
  }

  async release(ids: string[]): Promise<void> {
    // Back at the head, in the order given (ids[0] is taken first next time).
    for (let i = ids.length - 1; i >= 0; i--) {
      const entry = this.inFlight.get(ids[i]);
      if (!entry) continue;
      this.inFlight.delete(ids[i]);
      if (this.head > 0) this.waiting[--this.head] = entry;
      else this.waiting.unshift(entry);
    }
  }

  /** Batches waiting (not in flight). */
  waitingCount(): number {
    return this.waiting.length - this.head;
  }

  /** Batches held, waiting or in flight. */
  heldCount(): number {
    return this.waitingCount() + this.inFlight.size;
  }

  /** Counts items dropped by the queue's owner on its behalf (the Redis queue's fallback path). */
  countDropped(reason: DropReason, items: number): void {
    countDrop(this.dropped, reason, items);
  }

  stats(): QueueStats {
    return {
      depthBatches: this.waitingCount() + this.inFlight.size,
      depthItems: this.items,
      depthBytes: this.bytes,
      enqueued: this.enqueued,
      acked: this.acked,
      dropped: { ...this.dropped },
      redisAvailable: false,
      dataLossDetected: 0,
      backend: 'memory',
    };
  }

  /**
   * The contents die with the process: whatever is still held (waiting or
   * in flight) is counted as lost (`shutdown_timeout`) so stats and status
   * show it, and reported once.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const batches = this.waitingCount() + this.inFlight.size;
    if (batches === 0) return;
    const items = this.items;
    countDrop(this.dropped, 'shutdown_timeout', items);
    this.waiting = [];
    this.head = 0;
    this.inFlight.clear();
    this.items = 0;
    this.bytes = 0;
    diag.warn(`guard-agent fallback queue: stopping with ${batches} undelivered batches (${items} items) and no Redis to keep them; they are lost (counted as shutdown_timeout)`);
  }

  private trim(): void {
    while (
      (this.waitingCount() + this.inFlight.size > this.maxBatches || this.bytes > this.maxBytes) &&
      this.head < this.waiting.length
    ) {
      const entry = this.waiting[this.head];
      this.waiting[this.head++] = undefined;
      if (!entry) continue;
      this.forget(entry);
      countDrop(this.dropped, 'queue_full', entry.batch.items.length);
    }
    this.compact();
  }

  private forget(entry: Entry): void {
    this.bytes -= entry.bytes;
    this.items -= entry.batch.items.length;
  }

  private compact(): void {
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}
