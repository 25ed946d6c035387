/**
 * The fallback queue's contract: where the exporters put every batch the
 * backend has not acknowledged, and where a drainer takes them back from to
 * replay them. Two implementations: `MemoryFallbackQueue` (bounded, lives as
 * long as the process) and `RedisFallbackQueue` (survives restarts, shared by
 * several processes of one project, falls back to memory while Redis is down).
 *
 * Delivery is at-least-once: a batch taken and not acked (the process died,
 * the send failed) comes back; duplicates are possible and carry the same
 * `batchId` / idempotency keys so the backend can deduplicate.
 */
import type { DropReason, WireBatch } from '../transport/types.js';

export interface QueueStats {
  /** Batches held (waiting + in flight), Redis and memory together. */
  depthBatches: number;
  /** Items (events / metrics) in those batches. */
  depthItems: number;
  /** Approximate bytes of those batches (their JSON length). */
  depthBytes: number;
  /** Batches accepted by `enqueue`. */
  enqueued: number;
  /** Batches removed for good by `ack`. */
  acked: number;
  /** Items dropped on purpose, by reason (counts items, not batches). */
  dropped: Partial<Record<DropReason, number>>;
  /** False while the Redis queue is answering from its memory fallback (always false for the memory queue). */
  redisAvailable: boolean;
  /** How many times the Redis queue found that Redis had lost its data (restart without persistence, eviction). */
  dataLossDetected: number;
  backend: 'memory' | 'redis';
}

export interface QueuedBatch {
  /** The queue entry id: pass it to `ack` or `release`. Not the batchId. */
  id: string;
  batch: WireBatch;
}

export interface FallbackQueue {
  /** Stores a batch. Never throws; bounded: when full the oldest waiting batch is dropped and counted (`queue_full`). */
  enqueue(batch: WireBatch): Promise<void>;
  /** Up to `max` waiting batches, oldest first, marked in flight for this instance until `ack` / `release` (or, for Redis, until the instance dies and its lease expires). */
  take(max: number): Promise<QueuedBatch[]>;
  /** The batches were delivered (or dropped for a permanent reason): remove them for good. */
  ack(ids: string[]): Promise<void>;
  /** The batches were not delivered: make them takeable again, at the head of the queue. */
  release(ids: string[]): Promise<void>;
  stats(): QueueStats;
  close(): Promise<void>;
  /**
   * Optional, for a switch from `previous` to this queue: when both keep
   * their batches in the same store (the same Redis lists, reached through
   * two connections), moving them would move them onto themselves. This
   * queue then adopts what `previous` holds in memory instead and returns the
   * ids of `previous`'s in-flight entries it now settles (ack / release);
   * null when the stores differ or it cannot tell (the batches are moved).
   */
  takeOver?(previous: FallbackQueue): Promise<string[] | null>;
}

/**
 * Approximate size of a batch, without serialising it: the items and keys
 * dominate; 96 bytes cover the envelope. The Redis queue uses the real JSON
 * length instead (it has to serialise anyway).
 */
export function approximateBatchBytes(batch: WireBatch): number {
  let bytes = 96 + batch.batchId.length;
  for (const item of batch.items) bytes += item.length + 1;
  for (const key of batch.idempotencyKeys) bytes += key.length + 3;
  return bytes;
}

/** Adds `count` to `reason` in a drop-count record (no-op for 0). */
export function countDrop(dropped: Partial<Record<DropReason, number>>, reason: DropReason, count: number): void {
  if (count <= 0) return;
  dropped[reason] = (dropped[reason] ?? 0) + count;
}

/** Sum of two drop-count records, as a fresh object. */
export function mergeDrops(
  a: Partial<Record<DropReason, number>>,
  b: Partial<Record<DropReason, number>>,
): Partial<Record<DropReason, number>> {
  const out: Partial<Record<DropReason, number>> = { ...a };
  for (const [reason, count] of Object.entries(b) as [DropReason, number][]) countDrop(out, reason, count);
  return out;
}
