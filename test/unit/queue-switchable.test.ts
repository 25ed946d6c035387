import assert from 'node:assert/strict';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { SwitchableQueue } from '../../src/queue/switchable-queue.js';
import type { WireBatch } from '../../src/transport/types.js';
import { makeBatch } from '../helpers/wire-batch.js';

/** A memory queue whose enqueue fails from the nth call on (a target that breaks the never-throw contract mid-move). */
class FailingAfter extends MemoryFallbackQueue {
  private calls = 0;
  constructor(private readonly okCalls: number) {
    super();
  }
  override async enqueue(batch: WireBatch): Promise<void> {
    if (++this.calls > this.okCalls) throw new Error('enqueue failed');
    await super.enqueue(batch);
  }
}

describe('SwitchableQueue', () => {
  it('moves every batch to the new queue, oldest first, and closes the old one', async () => {
    const old = new MemoryFallbackQueue();
    const batches = [makeBatch(1), makeBatch(2), makeBatch(3)];
    for (const b of batches) await old.enqueue(b);
    const q = new SwitchableQueue(old);
    const next = new MemoryFallbackQueue();
    await q.switchTo(next);
    assert.equal(q.current, next);
    assert.deepEqual((await q.take(10)).map((t) => t.batch.batchId), batches.map((b) => b.batchId));
  });

  it('a move that fails midway (past its first chunk of 100) keeps every batch in the old queue, none left taken, and closes the new one', async () => {
    const old = new MemoryFallbackQueue({ maxBatches: 1000 });
    const batches = Array.from({ length: 150 }, () => makeBatch(1));
    for (const b of batches) await old.enqueue(b);
    const q = new SwitchableQueue(old);
    const next = new FailingAfter(120);
    await assert.rejects(q.switchTo(next), /enqueue failed/);
    assert.equal(q.current, old, 'the switch did not happen');
    const left = await old.take(1000);
    assert.deepEqual(left.map((t) => t.batch.batchId).sort(), batches.map((b) => b.batchId).sort(), 'all 150 back, none stuck in flight');
    assert.deepEqual(await next.take(10), [], 'the new queue is closed');
  });
});
