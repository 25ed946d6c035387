import assert from 'node:assert/strict';
import type { WireBatch } from '../../src/transport/types.js';

let seq = 0;

/** A unique events WireBatch of `items` items of about `itemBytes` bytes each (queue tests). */
export function makeBatch(items = 2, itemBytes = 40, createdAt = Date.now()): WireBatch {
  const n = ++seq;
  const keys = Array.from({ length: items }, (_, i) => `k-${n}-${i}`);
  return {
    kind: 'events',
    batchId: `${createdAt}-${n.toString(16).padStart(8, '0')}`,
    items: keys.map((k) => JSON.stringify({ idempotency_key: k, p: 'x'.repeat(Math.max(0, itemBytes - 40)) })),
    idempotencyKeys: keys,
    createdAt,
  };
}

/**
 * Enqueues each batch in turn and asserts that none took longer than
 * `maxMs`: with its Redis down, a queue answers from memory at once instead
 * of waiting on the connection. Returns the batches enqueued.
 */
export async function assertEnqueuesFast(queue: { enqueue(b: WireBatch): Promise<void> }, count: number, maxMs: number): Promise<WireBatch[]> {
  const batches = Array.from({ length: count }, (_, i) => makeBatch(i + 1));
  const durations: number[] = [];
  for (const batch of batches) {
    const t0 = Date.now();
    await queue.enqueue(batch);
    durations.push(Date.now() - t0);
  }
  assert.ok(Math.max(...durations) < maxMs, `enqueue took ${durations.join(', ')} ms (at most ${maxMs} expected)`);
  return batches;
}
