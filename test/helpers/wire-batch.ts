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
