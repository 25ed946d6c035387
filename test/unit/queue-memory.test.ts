import assert from 'node:assert/strict';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { approximateBatchBytes } from '../../src/queue/fallback-queue.js';
import { makeBatch } from '../helpers/wire-batch.js';


describe('MemoryFallbackQueue', () => {
  it('hands batches back oldest first and removes them on ack', async () => {
    const q = new MemoryFallbackQueue({ maxBatches: 10 });
    const batches = [makeBatch(1), makeBatch(2), makeBatch(3)];
    for (const b of batches) await q.enqueue(b);
    const taken = await q.take(2);
    assert.deepEqual(taken.map((t) => t.batch.batchId), [batches[0].batchId, batches[1].batchId]);
    await q.ack(taken.map((t) => t.id));
    const rest = await q.take(10);
    assert.deepEqual(rest.map((t) => t.batch.batchId), [batches[2].batchId]);
    await q.ack(rest.map((t) => t.id));
    const s = q.stats();
    assert.equal(s.depthBatches, 0);
    assert.equal(s.depthItems, 0);
    assert.equal(s.depthBytes, 0);
    assert.equal(s.enqueued, 3);
    assert.equal(s.acked, 3);
    assert.equal(s.backend, 'memory');
    assert.equal(s.redisAvailable, false);
  });

  it('does not hand out a batch twice while it is in flight', async () => {
    const q = new MemoryFallbackQueue();
    await q.enqueue(makeBatch());
    assert.equal((await q.take(5)).length, 1);
    assert.equal((await q.take(5)).length, 0);
    assert.equal(q.stats().depthBatches, 1);
  });

  it('release puts batches back at the head, in the order given', async () => {
    const q = new MemoryFallbackQueue();
    const [a, b, c] = [makeBatch(), makeBatch(), makeBatch()];
    await q.enqueue(a);
    await q.enqueue(b);
    await q.enqueue(c);
    const taken = await q.take(2);
    await q.release(taken.map((t) => t.id));
    const again = await q.take(3);
    assert.deepEqual(again.map((t) => t.batch.batchId), [a.batchId, b.batchId, c.batchId]);
    assert.deepEqual(again.slice(0, 2).map((t) => t.id), taken.map((t) => t.id), 'same entry ids after release');
  });

  it('ack and release of unknown ids are no-ops', async () => {
    const q = new MemoryFallbackQueue();
    await q.enqueue(makeBatch());
    await q.ack(['m999', 'nope']);
    await q.release(['m999']);
    assert.equal(q.stats().acked, 0);
    assert.equal(q.stats().depthBatches, 1);
  });

  it('drops the oldest waiting batch when the count bound is hit, counting its items', async () => {
    const q = new MemoryFallbackQueue({ maxBatches: 3 });
    const batches = Array.from({ length: 5 }, (_, i) => makeBatch(i + 1));
    for (const b of batches) await q.enqueue(b);
    const s = q.stats();
    assert.equal(s.depthBatches, 3);
    assert.equal(s.dropped.queue_full, 1 + 2, 'items of the two oldest batches');
    const taken = await q.take(10);
    assert.deepEqual(taken.map((t) => t.batch.batchId), batches.slice(2).map((b) => b.batchId));
  });

  it('never drops in-flight batches; counts them toward the bound', async () => {
    const q = new MemoryFallbackQueue({ maxBatches: 2 });
    const [a, b, c] = [makeBatch(1), makeBatch(1), makeBatch(1)];
    await q.enqueue(a);
    await q.enqueue(b);
    const inFlight = await q.take(2);
    await q.enqueue(c); // nothing waiting but c itself: c is the oldest waiting, so it goes
    assert.equal(q.stats().dropped.queue_full, 1);
    await q.ack(inFlight.map((t) => t.id));
    assert.equal(q.stats().depthBatches, 0);
  });

  it('drops oldest by bytes', async () => {
    const one = makeBatch(1, 1000);
    const size = approximateBatchBytes(one);
    const q = new MemoryFallbackQueue({ maxBatches: 100, maxBytes: size * 3 + 10 });
    await q.enqueue(one);
    for (let i = 0; i < 4; i++) await q.enqueue(makeBatch(1, 1000));
    const s = q.stats();
    assert.equal(s.depthBatches, 3);
    assert.ok(s.depthBytes <= size * 3 + 10);
    assert.equal(s.dropped.queue_full, 2);
    const taken = await q.take(1);
    assert.notEqual(taken[0].batch.batchId, one.batchId);
  });

  it('keeps FIFO order over many operations (deque compaction)', async () => {
    const q = new MemoryFallbackQueue({ maxBatches: 5000 });
    const ids: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const b = makeBatch(1, 40);
      ids.push(b.batchId);
      await q.enqueue(b);
    }
    const seen: string[] = [];
    for (;;) {
      const taken = await q.take(7);
      if (taken.length === 0) break;
      seen.push(...taken.map((t) => t.batch.batchId));
      await q.ack(taken.map((t) => t.id));
    }
    assert.deepEqual(seen, ids);
    assert.equal(q.stats().depthBatches, 0);
  });
});
