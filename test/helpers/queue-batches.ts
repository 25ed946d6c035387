/** Small WireBatch factories for the fallback-queue tests. */
import type { WireBatch } from '../../src/transport/types.js';

let seq = 0;

/** A batch of `items` events of about `itemBytes` each; the batchId is unique per call. */
export function makeBatch(items = 2, itemBytes = 40, createdAt = Date.now()): WireBatch {
  const n = ++seq;
  const pad = 'x'.repeat(Math.max(0, itemBytes - 40));
  const keys = Array.from({ length: items }, (_, i) => `k-${n}-${i}`);
  return {
    kind: 'events',
    batchId: `${createdAt}-${n.toString(16).padStart(8, '0')}`,
    items: keys.map((k) => JSON.stringify({ idempotency_key: k, p: pad })),
    idempotencyKeys: keys,
    createdAt,
  };
}
